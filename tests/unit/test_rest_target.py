"""The REST request target: the query built directly equals urlencode's."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from hypothesis import given
from hypothesis import strategies as st

from podman_exporter.podman.rest_http import API_PREFIX, _target

TEXT = st.one_of(st.text(max_size=8), st.text(st.sampled_from("ab09_.~-"), max_size=8),
                 st.text(st.sampled_from("a=&+ %é/"), max_size=4))


@given(st.text(st.sampled_from("/ab c%é"), max_size=8),
       st.lists(st.tuples(TEXT, TEXT), max_size=5))
def test_the_target_is_the_quoted_path_and_urlencode_s_query(
        path: str, params: list[tuple[str, str]]) -> None:
    query = urlencode(params)
    assert _target(path, params) == f"{API_PREFIX}{quote(path)}" + (f"?{query}" if query else "")


def test_a_bulk_stats_query_names_every_id_in_order() -> None:
    ids = [f"{n:064x}" for n in range(1000)]
    target = _target("/containers/stats", [("stream", "false"), *(("containers", i) for i in ids)])
    assert target == f"{API_PREFIX}/containers/stats?stream=false&" + "&".join(
        f"containers={i}" for i in ids)
