"""Property: any snapshot renders to parseable expositions without duplicate series,
and every container gets exactly one ``podman_container_info`` series."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from podman_exporter.metrics import MetricOptions, build_families
from podman_exporter.snapshot.model import (
    Container,
    ContainerSize,
    ContainerState,
    ContainerStats,
    Health,
    HostInfo,
    Image,
    Pod,
    PodState,
    PortMapping,
    VersionInfo,
    Volume,
)
from podman_exporter.snapshot.snapshot import CollectorStatus, Snapshot

# Any code point, lone surrogates included (JSON decoding can produce them).
TEXT = st.text(st.characters(exclude_categories=()), max_size=12)
SHORT = st.text(st.sampled_from('ab.:/@\\"\n{}= é<>'), max_size=6)
ANY_TEXT = st.one_of(TEXT, SHORT)
HEX_ID = st.text(st.sampled_from("0123456789abcdef"), min_size=12, max_size=64)
NUMBER = st.one_of(st.none(), st.integers(0, 2**64), st.floats(allow_nan=True))
COUNT = st.one_of(st.none(), st.integers(0, 2**63))
LABELS = st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=4).map(MappingProxyType)


@st.composite
def containers(draw: st.DrawFn) -> tuple[Container, ...]:
    ids = draw(st.lists(HEX_ID, max_size=8, unique_by=lambda i: i[:12]))
    names = st.one_of(ANY_TEXT, st.sampled_from(["web", "db"]))  # repeated names too
    return tuple(
        Container(
            id=cid,
            name=draw(names),
            image=draw(ANY_TEXT),
            image_id=draw(ANY_TEXT),
            state=draw(st.sampled_from(ContainerState)),
            created=draw(NUMBER),
            ports=tuple(
                draw(
                    st.lists(
                        st.builds(PortMapping, ANY_TEXT, ANY_TEXT, ANY_TEXT, ANY_TEXT), max_size=3
                    )
                )
            ),
            labels=draw(LABELS),
            pod_id=draw(ANY_TEXT),
            pod_name=draw(ANY_TEXT),
            exit_code=draw(st.one_of(st.none(), st.integers(-(2**31), 2**31))),
            started=draw(NUMBER),
            exited=draw(NUMBER),
            health=draw(st.one_of(st.none(), st.sampled_from(Health))),
        )
        for cid in ids
    )


def stats_for(ids: list[str]) -> st.SearchStrategy[ContainerStats]:
    return st.builds(
        ContainerStats,
        st.sampled_from(ids),
        NUMBER,
        NUMBER,
        COUNT,
        COUNT,
        COUNT,
        COUNT,
        COUNT,
        COUNT,
        COUNT,
    )


@st.composite
def snapshots(draw: st.DrawFn) -> tuple[Snapshot, MetricOptions]:
    cs = draw(st.one_of(st.none(), containers()))
    ids = [c.id for c in cs or ()] + ["not-listed"]
    stats = draw(
        st.one_of(
            st.none(),
            st.lists(stats_for(ids), max_size=8).map(
                lambda items: MappingProxyType({s.id: s for s in items})
            ),
        )
    )
    sizes = draw(st.one_of(st.none(), st.lists(
        st.builds(ContainerSize, st.sampled_from(ids), COUNT, COUNT), max_size=8).map(
            lambda items: MappingProxyType({s.id: s for s in items}))))
    images = st.builds(
        Image,
        ANY_TEXT,
        ANY_TEXT,
        st.lists(ANY_TEXT, max_size=4).map(tuple),
        st.lists(ANY_TEXT, max_size=3).map(tuple),
        NUMBER,
        COUNT,
        COUNT,
    )
    host = st.builds(
        HostInfo,
        ANY_TEXT,
        ANY_TEXT,
        ANY_TEXT,
        ANY_TEXT,
        COUNT,
        COUNT,
        COUNT,
        COUNT,
        COUNT,
        NUMBER,
        COUNT,
        COUNT,
        ANY_TEXT,
        ANY_TEXT,
        ANY_TEXT,
        st.builds(VersionInfo, ANY_TEXT, ANY_TEXT, ANY_TEXT, ANY_TEXT),
    )
    snapshot = Snapshot(
        taken_at=draw(st.floats(allow_nan=False)),
        up=draw(st.booleans()),
        api=draw(st.sampled_from(["", "varlink", "rest"])),
        containers=cs,
        sizes=sizes,
        stats=stats,
        images=draw(st.one_of(st.none(), st.lists(images, max_size=4).map(tuple))),
        host=draw(st.one_of(st.none(), host)),
        pods=draw(
            st.one_of(
                st.none(),
                st.lists(
                    st.builds(Pod, ANY_TEXT, ANY_TEXT, ANY_TEXT, st.sampled_from(PodState), COUNT),
                    max_size=4,
                ).map(tuple),
            )
        ),
        volumes=draw(
            st.one_of(
                st.none(),
                st.lists(st.builds(Volume, ANY_TEXT, ANY_TEXT, ANY_TEXT), max_size=4).map(tuple),
            )
        ),
        collectors=tuple(
            draw(
                st.lists(
                    st.builds(
                        CollectorStatus,
                        ANY_TEXT,
                        st.booleans(),
                        NUMBER.filter(lambda v: v is not None),
                        st.integers(0, 10**6),
                        st.integers(0, 10**6),
                    ),
                    max_size=4,
                )
            )
        ),
        last_success=draw(st.one_of(st.none(), st.floats())),
        admin_actions=draw(
            st.dictionaries(st.tuples(ANY_TEXT, ANY_TEXT), st.integers(0, 10**6), max_size=3).map(
                MappingProxyType
            )
        ),
    )
    keys = draw(st.lists(ANY_TEXT, max_size=5))
    keys += [k for c in cs or () for k in c.labels][:3]
    return snapshot, MetricOptions(container_labels=tuple(keys))


class _Families:
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


@settings(max_examples=300, deadline=None)
@given(snapshots())
def test_any_snapshot_renders_parseable_and_unique(case: tuple[Snapshot, MetricOptions]) -> None:
    snapshot, options = case
    families = _Families(build_families(snapshot, options))
    text = generate_latest(families).decode("utf-8")
    openmetrics = generate_openmetrics(families).decode("utf-8")  # type: ignore[no-untyped-call]
    for parsed in (list(parse_text(text)), list(parse_openmetrics(openmetrics))):  # type: ignore[no-untyped-call]
        series = [(s.name, frozenset(s.labels.items())) for f in parsed for s in f.samples]
        assert len(series) == len(set(series)), "duplicate series"
        info = [s for f in parsed for s in f.samples if s.name == "podman_container_info"]
        expected = Counter(c.id[:12] for c in snapshot.containers or ())
        assert Counter(s.labels["id"] for s in info) == expected
        names = {s.name for f in parsed for s in f.samples}
        assert "podman_up" in names
        if snapshot.containers is None:
            assert not any(n.startswith("podman_container_") for n in names)
        if snapshot.host is None:
            assert not any(n.startswith(("podman_host_", "podman_store_")) for n in names)
