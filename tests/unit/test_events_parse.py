"""Podman's event lines -> Event, pinned on a real Podman 4.3.1 stream.

tests/replies/podman-4.3/events.jsonl is ``GET /v4.0.0/libpod/events?stream=true`` as
Podman sent it, line by line, while this scenario ran on a private Podman (ids and times
change with each recording; names, actions and exit codes do not):
``ev-exit3`` exits with 3; ``ev-loop`` (``--restart=always``) exits with 1 every second;
``ev-sleep`` gets a health check, an exec, ``podman restart``, pause, unpause, a rename to
``ev-renamed``, a kill through REST, a start and a stop through REST; pod ``ev-pod`` with
``ev-pod-a`` is created and removed; ``ev-oom`` (``--memory 32m``, ``tail /dev/zero``) is
OOM-killed (137, and no ``oom`` event); ``ev-rmf`` is removed with ``rm -f``.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podman_exporter.podman.events import Event, parse_event

RECORDING = Path(__file__).resolve().parents[1] / "replies" / "podman-4.3" / "events.jsonl"
LINES = RECORDING.read_bytes().splitlines(keepends=True)


def events() -> list[Event]:
    return [parse_event(line) for line in LINES]


def by_name(name: str) -> list[Event]:
    return [e for e in events() if e.type == "container" and e.name == name]


def test_every_recorded_line_is_one_event_with_the_fields_podman_sent() -> None:
    assert len(LINES) > 50
    for line, event in zip(LINES, events(), strict=True):
        raw = json.loads(line)
        attributes = raw["Actor"]["Attributes"]
        assert event.type == raw["Type"]
        assert event.action == raw["Action"] == raw["status"]
        assert event.id == raw["Actor"]["ID"]
        assert event.time_nano == raw["timeNano"]
        assert event.time_nano // 10**9 == raw["time"]
        assert event.name == attributes["name"]
        assert event.pod_id == attributes["podId"]
        assert event.exit_code == int(attributes["containerExitCode"])
        assert event.health == raw.get("HealthStatus", "")


def test_recorded_shape_of_podman_4_3() -> None:
    """The facts the reader relies on, as Podman 4.3.1 sent them."""
    for line in LINES:
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        raw = json.loads(line)
        attributes = raw["Actor"]["Attributes"]
        assert isinstance(attributes["containerExitCode"], str)  # text, on every event
        if raw["Type"] == "container":
            assert raw["id"] == raw["Actor"]["ID"] and len(raw["id"]) == 64
            health = ["HealthStatus"] if raw["Action"] == "health_status" else []
            assert list(raw) == ["status", "id", "from", "Type", "Action", "Actor", "scope",
                                 "time", "timeNano", *health]
        if raw["Type"] == "image":
            assert "id" not in raw and raw["Actor"]["ID"] == ""
    exits = {e.name: e.exit_code for e in events() if e.action == "died"}
    assert exits["ev-exit3"] == 3 and exits["ev-loop"] in (1, 137) and exits["ev-oom"] == 137
    assert all(e.exit_code == 0 for e in events() if e.action != "died")
    assert not [e for e in events() if e.action == "oom"]  # Podman 4.3 sends none


def test_restart_policy_logs_died_then_restart_and_podman_restart_the_other_way() -> None:
    loop = [e.action for e in by_name("ev-loop")]
    restarts = [i for i, a in enumerate(loop) if a == "restart"]
    assert len(restarts) >= 3
    assert all(loop[i - 1] == "died" and loop[i + 1:i + 3] == ["init", "start"]
               for i in restarts)
    sleep = [e.action for e in by_name("ev-sleep")]
    i = sleep.index("restart")
    assert sleep[i + 1] == "died" and "init" in sleep[i + 2:]


def test_a_pod_infra_container_gets_a_restart_right_after_create() -> None:
    infra = [e for e in events() if e.type == "container" and e.name.endswith("-infra")]
    assert [e.action for e in infra[:4]] == ["create", "restart", "init", "start"]
    assert infra[0].pod_id


def test_events_are_not_in_time_order_and_image_events_have_no_id() -> None:
    times = [e.time_nano for e in events()]
    assert any(b < a for a, b in itertools.pairwise(times))
    pulls = [e for e in events() if e.type == "image" and e.action == "pull"]
    assert pulls and all(e.id == "" and e.name for e in pulls)


def test_fallbacks_of_older_shapes() -> None:
    e = parse_event('{"status": "died", "id": "abc", "Type": "container", "time": 5}')
    assert (e.action, e.id, e.time_nano, e.exit_code) == ("died", "abc", 5 * 10**9, None)
    e = parse_event(b'{"Type":"container","Action":"died","timeNano":7,'
                    b'"Actor":{"ID":"x","Attributes":{"containerExitCode":"-1"}}}')
    assert (e.id, e.exit_code) == ("x", -1)


@pytest.mark.parametrize("line", [
    b"", b"not json", b"[1, 2]", b"null", b'"text"', b"\xff\xfe{}",
    b'{"Action": "died", "timeNano": 1}',
    b'{"Type": "container", "timeNano": 1}',
    b'{"Type": "container", "Action": "died"}',
    b'{"Type": "container", "Action": "died", "timeNano": "soon"}',
    b'{"Type": "container", "Action": "died", "timeNano": -5}',
    b'{"Type": "container", "Action": "died", "timeNano": 1e400}',
    b'{"Type": "container", "Action": "died", "timeNano": 123456789012345678901234567890}',
    b"[" * 100_000,
])
def test_bad_lines_raise_value_error(line: bytes) -> None:
    with pytest.raises(ValueError):
        parse_event(line)


def test_bad_fields_of_a_usable_event_are_read_as_empty() -> None:
    e = parse_event('{"Type": "container", "Action": "died", "timeNano": 1, "Actor": '
                    '{"ID": 5, "Attributes": {"name": 3, "containerExitCode": "x1"}}}')
    assert (e.id, e.name, e.exit_code) == ("", "", None)
    e = parse_event('{"Type": "container", "Action": "died", "timeNano": 1, "Actor": [],'
                    ' "id": "fallback"}')
    assert e.id == "fallback"
    e = parse_event('{"Type":"container","Action":"died","timeNano":1,"Actor":{"Attributes":'
                    '{"containerExitCode":"99999999999"}}}')
    assert e.exit_code is None


@given(st.one_of(st.binary(max_size=200), st.text(max_size=200),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.floats()
                              | st.text(max_size=10),
                              lambda inner: st.lists(inner, max_size=4)
                              | st.dictionaries(st.sampled_from(
                                  ["Type", "Action", "status", "timeNano", "time", "Actor",
                                   "ID", "Attributes", "id", "name", "containerExitCode"]),
                                  inner, max_size=5),
                              max_leaves=20).map(json.dumps)))
def test_any_input_is_an_event_or_a_value_error(line: bytes | str) -> None:
    try:
        event = parse_event(line)
    except ValueError:
        return
    assert event.type and event.action and event.time_nano >= 0
