"""What an operator sees when Podman sends a malformed record (podman/fields.py).

The records are real Podman 4.3.1 replies (tests/replies/podman-4.3) with one field
damaged. A reply with bad records is kept but counted (``Batch.bad``, exported as
podman_exporter_bad_records_total) and logged as one line per reply naming the first
problem: the field, what was expected and the value received (cut to 40 characters).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from podman_exporter.podman import rest_parse
from podman_exporter.podman.backend import PodmanError
from podman_exporter.podman.fields import Record, parse_records
from replies.recorded import body

STATS = partial(rest_parse.stats, swapped=True)  # as for the recorded Podman 4.3.1


def container(**fields: Any) -> dict[str, Any]:
    """Return the recorded rec-labeled entry of containers/json with ``fields`` replaced."""
    raw: dict[str, Any] = next(r for r in body("containers") if r["Names"] == ["rec-labeled"])
    raw.update(fields)
    return raw


def stats_entry(**fields: Any) -> dict[str, Any]:
    raw: dict[str, Any] = body("stats")["Stats"][0]
    raw.update(fields)
    return raw


def logged(caplog: pytest.LogCaptureFixture, reply: list[Any],
           parse: Callable[[Record], Any], kind: str) -> tuple[Any, str]:
    """Return (batch, the one warning logged) for a reply."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="podman_exporter.podman.fields"):
        batch = parse_records(reply, parse, kind)
    [record] = caplog.records
    return batch, record.getMessage()


# -- records dropped: not an object, or no usable id --------------------------------------------


def test_dropped_records_are_counted_and_the_first_is_named(
        caplog: pytest.LogCaptureFixture) -> None:
    good = container()
    batch, line = logged(caplog, [container(Id=None), "junk", good], rest_parse.container,
                         "container")
    assert [c.id for c in batch.items] == [good["Id"]] and batch.bad == 2
    assert line == ("malformed container records from Podman: 2 of 3 "
                    "(first: dropped: Id: expected a non-empty string, got None)")
    _, line = logged(caplog, ["junk", container(Id="")], rest_parse.container, "container")
    assert line == ("malformed container records from Podman: 2 of 2 "
                    "(first: dropped: record is str, not an object)")


def test_the_first_problem_is_the_first_bad_record_in_the_reply(
        caplog: pytest.LogCaptureFixture) -> None:
    kept_bad, dropped = container(Image=7), container(Id=[])
    batch, line = logged(caplog, [container(), kept_bad, dropped], rest_parse.container, "c")
    assert batch.bad == 2 and len(batch.items) == 2
    assert line == ("malformed c records from Podman: 2 of 3 "
                    "(first: kept without Image: expected a string, got 7)")
    _, line = logged(caplog, [dropped, kept_bad], rest_parse.container, "c")
    assert line == ("malformed c records from Podman: 2 of 2 "
                    "(first: dropped: Id: expected a non-empty string, got [])")


def test_a_good_reply_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="podman_exporter.podman.fields"):
        batch = parse_records(body("containers"), rest_parse.container, "container")
    assert batch.bad == 0 and len(batch.items) == len(body("containers"))
    assert caplog.records == []


def test_a_reply_that_is_not_a_list() -> None:
    with pytest.raises(PodmanError) as caught:
        parse_records({"Stats": []}, STATS, "stats")
    assert str(caught.value) == "stats reply is dict, not a list"
    assert parse_records(None, STATS, "stats").items == ()


# -- records kept without the malformed field ----------------------------------------------------


@pytest.mark.parametrize(("fields", "problem", "check"), [
    ({"Image": 7}, "Image: expected a string, got 7", lambda c: c.image == ""),
    ({"ExitCode": "three"}, "ExitCode: expected an integer, got 'three'",
     lambda c: c.exit_code is None),
    ({"ExitCode": True}, "ExitCode: expected an integer, got True",
     lambda c: c.exit_code is None),
    ({"Names": 5}, "Names: expected a list of strings, got 5", lambda c: c.name == c.id[:12]),
    ({"Names": ["web", 3]}, "Names: expected a list of strings, got ['web', 3]",
     lambda c: c.name == "web"),
    ({"Labels": "app=shop"}, "Labels: expected a map of strings, got 'app=shop'",
     lambda c: dict(c.labels) == {}),
    ({"Labels": {"app": "shop", "tier": 7}},
     "Labels: expected a map of strings, got {'app': 'shop', 'tier': 7}",
     lambda c: dict(c.labels) == {"app": "shop"}),
    ({"Ports": "80/tcp"}, "Ports: expected a list of objects, got '80/tcp'",
     lambda c: c.ports == ()),
    ({"Ports": [{"host_ip": "", "container_port": 80, "host_port": 8080, "protocol": "tcp"},
                "443/tcp"]},
     "Ports: expected a list of objects, got [{'host_ip': '', 'container_port': 80...",
     lambda c: [p.render() for p in c.ports] == ["0.0.0.0:8080->80/tcp"]),
])
def test_container_kept_without_the_bad_field(
        caplog: pytest.LogCaptureFixture, fields: dict[str, Any], problem: str,
        check: Callable[[Any], bool]) -> None:
    raw = container(**fields)
    batch, line = logged(caplog, [raw], rest_parse.container, "container")
    assert batch.bad == 1 and [c.id for c in batch.items] == [raw["Id"]]
    assert line == (
        f"malformed container records from Podman: 1 of 1 (first: kept without {problem})")
    assert check(batch.items[0])
    assert batch.items[0].state.name == "RUNNING"  # the rest of the record is kept


@pytest.mark.parametrize(("value", "shown"), [
    ("12", "'12'"), (-5, "-5"), (2.5, "2.5"), (True, "True"), ([1], "[1]"),
])
def test_stats_kept_without_a_bad_counter(
        caplog: pytest.LogCaptureFixture, value: Any, shown: str) -> None:
    raw = stats_entry(MemUsage=value)
    batch, line = logged(caplog, [raw], STATS, "stats")
    assert batch.bad == 1 and batch.items[0].mem_usage_bytes is None
    assert batch.items[0].pids == raw["PIDs"]
    assert line == ("malformed stats records from Podman: 1 of 1 (first: kept without "
                    f"MemUsage: expected a non-negative integer, got {shown})")


def test_whole_floats_and_zero_are_counters(caplog: pytest.LogCaptureFixture) -> None:
    """JSON has one number type: 3.0 is a count; 0 is a count, not a missing one."""
    with caplog.at_level(logging.WARNING, logger="podman_exporter.podman.fields"):
        batch = parse_records([stats_entry(MemUsage=3.0, BlockInput=0, PIDs=0)], STATS, "s")
    assert batch.bad == 0 and caplog.records == []
    s = batch.items[0]
    assert (s.mem_usage_bytes, s.block_input_bytes, s.pids) == (3, 0, 0)
    assert type(s.mem_usage_bytes) is int


def test_missing_and_null_fields_are_not_problems(caplog: pytest.LogCaptureFixture) -> None:
    raw = container(PodName=None, Labels=None, Ports=None, Names=None, ExitCode=None)
    del raw["Image"]
    with caplog.at_level(logging.WARNING, logger="podman_exporter.podman.fields"):
        batch = parse_records([raw], rest_parse.container, "container")
    assert batch.bad == 0 and caplog.records == []
    c = batch.items[0]
    assert (c.image, c.pod_name, dict(c.labels), c.ports, c.exit_code) == ("", "", {}, (), None)


def test_nested_object_of_the_wrong_type(caplog: pytest.LogCaptureFixture) -> None:
    raw = next(r for r in body("containers-size") if r["Size"])
    batch, line = logged(caplog, [{**raw, "Size": "big"}], rest_parse.size, "size")
    assert batch.bad == 1 and [s.id for s in batch.items] == [raw["Id"]]
    assert (batch.items[0].rootfs_bytes, batch.items[0].rw_bytes) == (None, None)
    assert line == ("malformed size records from Podman: 1 of 1 "
                    "(first: kept without Size: expected an object, got 'big')")


def test_host_info_sections_of_the_wrong_type(caplog: pytest.LogCaptureFixture) -> None:
    raw = body("info")
    raw["store"] = ["overlay"]
    batch, line = logged(caplog, [raw], rest_parse.host_info, "host info")
    info = batch.items[0]
    assert batch.bad == 1 and info.graph_root == "" and info.store_images is None
    assert info.mem_total_bytes == raw["host"]["memTotal"]
    assert line == ("malformed host info records from Podman: 1 of 1 "
                    "(first: kept without store: expected an object, got ['overlay'])")


@pytest.mark.parametrize(("length", "cut"), [(40, False), (41, True), (60, True)])
def test_the_value_shown_is_cut_to_40_characters(
        caplog: pytest.LogCaptureFixture, length: int, cut: bool) -> None:
    value = ["x" * (length - 4)]  # repr: ['xxx'] is `length` characters
    assert len(repr(value)) == length
    _, line = logged(caplog, [container(Image=value)], rest_parse.container, "c")
    shown = line.split("got ", 1)[1][:-1]
    assert shown == (repr(value)[:37] + "..." if len(repr(value)) > 40 else repr(value))
    assert len(shown) <= 40 and shown.endswith("...") is cut


@pytest.mark.parametrize(("value", "fits"), [
    (2**64 - 1, True), (2**64, False), (-(2**63), True), (-(2**63) - 1, False)])
def test_integers_must_fit_go_int64_or_uint64(value: int, fits: bool) -> None:
    record = Record({"Id": "x", "n": value})
    assert record.integer("n") == (value if fits else None)
    assert bool(record.problems) is not fits
