"""The simulator's events: the fleet's event log (fake clock), crash loops, the flood,
and the REST event endpoint with its faults."""

from __future__ import annotations

import argparse
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import varlink

from podman_exporter.podman.events import parse_event, rfc3339_nano
from podman_exporter.podman.rest_http import UnixHTTPConnection
from podman_exporter.sim import CONTROL_INTERFACE, SimOptions, SimulatorHandle, start_simulator
from podman_exporter.sim.cli import add_arguments, options_from_args
from podman_exporter.sim.control import control_interface
from podman_exporter.sim.events import EventLog, event_record, parse_time
from podman_exporter.sim.faults import Faults
from podman_exporter.sim.fleet import Fleet
from podman_exporter.sim.rest import RestServer

RECORDING = Path(__file__).resolve().parents[1] / "replies" / "podman-4.3" / "events.jsonl"


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make(clock: FakeClock, **kw: Any) -> Fleet:
    opts: dict[str, Any] = {"containers": 6, "images": 4, "seed": 3, "start_wall": 1.7e9}
    opts.update(kw)
    return Fleet(SimOptions(clock=clock, **opts))


def logged(fleet: Fleet) -> list[tuple[str, str]]:
    """Return (name, action) of every logged event, after the due ones were logged."""
    fleet.pump()
    return [(e.name, e.action) for e in fleet.events.since(None)[0]]


def test_events_have_podman_4_3_shape() -> None:
    fleet = make(FakeClock())
    fleet.add_containers(1)
    sim = json.loads(fleet.events.since(None)[0][0].line)
    real = json.loads(next(line for line in RECORDING.read_bytes().splitlines()
                           if b'"Type":"container"' in line))
    assert list(sim) == list(real)
    assert list(sim["Actor"]) == list(real["Actor"])
    assert list(sim["Actor"]["Attributes"]) == list(real["Actor"]["Attributes"])
    assert fleet.events.since(None)[0][0].line.endswith(b"}\n")


def test_lifecycle_changes_log_what_podman_logs() -> None:
    clock = FakeClock()
    fleet = make(clock)
    cid = fleet.add_containers(1)[0]
    name = fleet.find(cid).name
    clock.t += 1
    fleet.pause(cid)
    fleet.unpause(cid)
    fleet.restart(cid)
    fleet.kill(cid, 9)
    fleet.set_state(cid, "running")
    fleet.stop(cid)
    fleet.remove(cid, force=False)
    assert [a for n, a in logged(fleet) if n == name] == [
        "create", "init", "start", "pause", "unpause",
        "restart", "died", "cleanup", "init", "start",  # podman restart: restart first
        "kill", "died", "cleanup", "init", "start", "died", "cleanup", "remove"]
    events = [parse_event(e.line) for e in fleet.events.since(None)[0]]
    assert [e.exit_code for e in events if e.action == "died"] == [0, 137, 0]
    assert events[0].time_nano == fleet.wall_ns(0.0)
    assert events[3].time_nano == fleet.wall_ns(1.0)


def test_forced_removal_of_a_running_container() -> None:
    fleet = make(FakeClock())
    cid = fleet.add_containers(1)[0]
    fleet.remove(cid, force=True)
    assert [a for _, a in logged(fleet)][-3:] == ["died", "cleanup", "remove"]


def test_crash_looper_exits_and_restarts_by_policy() -> None:
    clock = FakeClock()
    fleet = make(clock, crash_loopers=1, crash_period=5.0)
    looper = next(c for c in fleet.list_containers() if c["names"].endswith("_crashloop"))
    assert looper["status"] == "running"
    clock.t += 12
    actions = [a for n, a in logged(fleet) if n == looper["names"]]
    assert actions == ["died", "restart", "init", "start"] * 2
    inspect = json.loads(fleet.inspect_container(looper["id"]))
    assert inspect["RestartCount"] == 2 and inspect["State"]["Status"] == "running"
    died = [parse_event(e.line) for e in fleet.events.since(None)[0] if e.action == "died"]
    assert [e.exit_code for e in died] == [1, 1]
    assert [e.time_nano for e in died] == [fleet.wall_ns(5.0), fleet.wall_ns(10.0)]


def test_crash_loopers_are_part_of_the_fleet_size() -> None:
    assert len(make(FakeClock(), crash_loopers=2).list_containers()) == 6
    assert len(make(FakeClock(), containers=0, crash_loopers=2).list_containers()) == 0
    assert SimOptions.demo().crash_loopers == 1


def test_flood_at_the_rate_asked_and_time_order_kept() -> None:
    clock = FakeClock()
    fleet = make(clock, churn_per_minute=120.0, crash_loopers=1, crash_period=0.25)
    fleet.event_flood = lambda: 2000.0
    fleet.pump()
    clock.t += 1.0
    fleet.pump()
    fleet.event_flood = lambda: 0.0
    clock.t += 1.0
    events = fleet.events.since(None)[0]
    flood = [e for e in events if e.action in ("exec", "exec_died")]
    assert 2000 <= len(flood) <= 2001
    times = [e.time_nano for e in events]
    assert times == sorted(times)
    assert {e.action for e in events} >= {"create", "remove", "died", "restart"}


def test_parse_time() -> None:
    nano = 1_796_183_722_140_130_302
    assert parse_time(rfc3339_nano(nano)) == nano
    assert parse_time("2026-12-02T04:55:22.5+01:00") == parse_time("2026-12-02T03:55:22.5Z")
    assert parse_time("1796183722.140130302") == nano
    assert parse_time("1796183722") == 1_796_183_722 * 10**9
    for bad in ("", "soon", "5m", "2026-12-02", "-1"):
        assert parse_time(bad) is None


# -- the REST endpoint -------------------------------------------------------------------


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[tuple[SimulatorHandle, RestServer, FakeClock]]:
    clock = FakeClock()
    handle = start_simulator(f"unix:{tmp_path / 'v.sock'}",
                             SimOptions(containers=4, images=3, seed=5, clock=clock,
                                        start_wall=1.7e9))
    rest = handle.serve_rest(str(tmp_path / "r.sock"))
    yield handle, rest, clock
    handle.stop()


def get(rest: RestServer, target: str) -> tuple[int, bytes]:
    conn = UnixHTTPConnection(rest.path, 10)
    try:
        conn.request("GET", target)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def lines(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.splitlines()]


def test_rest_non_stream_since_until_and_filters(
        sim: tuple[SimulatorHandle, RestServer, FakeClock]) -> None:
    handle, rest, clock = sim
    first = handle.fleet.add_containers(1)[0]
    clock.t += 1
    second = handle.fleet.add_containers(1)[0]
    handle.fleet.stop(second)
    status, body = get(rest, "/v4.0.0/libpod/events?stream=false")
    assert status == 200
    every = lines(body)
    assert len(every) == 8 and every[0]["id"] == first
    since = rfc3339_nano(every[2]["timeNano"])  # first's start, at the same time as create
    _, body = get(rest, f"/v4.0.0/libpod/events?stream=false&since={quote(since)}")
    assert lines(body) == every[3:]  # strictly after
    until = rfc3339_nano(every[0]["timeNano"])
    _, body = get(rest, f"/v4.0.0/libpod/events?stream=false&until={quote(until)}")
    assert lines(body) == every[:3]
    filters = quote(json.dumps({"event": ["died"], "container": [second[:8]]}))
    _, body = get(rest, f"/libpod/events?stream=false&filters={filters}")
    assert [(e["Action"], e["id"]) for e in lines(body)] == [("died", second)]


def test_rest_errors_and_ping(sim: tuple[SimulatorHandle, RestServer, FakeClock]) -> None:
    _, rest, _ = sim
    assert get(rest, "/_ping") == (200, b"OK")
    assert get(rest, "/v4.0.0/libpod/events?since=soon")[0] == 400
    assert get(rest, "/v4.0.0/libpod/events?filters=%5B")[0] == 400
    assert get(rest, "/v4.0.0/libpod/containers/json")[0] == 404


def raw_stream(rest: RestServer, query: str, stop: bytes) -> bytes:
    """Return the raw bytes of a stream response until ``stop`` is seen or it closes."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(30)
        sock.connect(rest.path)
        sock.sendall(f"GET /v4.0.0/libpod/events?{query} HTTP/1.1\r\nHost: d\r\n\r\n".encode())
        data = b""
        while stop not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def test_drop_fault_cuts_a_stream_in_the_middle_of_a_line(
        sim: tuple[SimulatorHandle, RestServer, FakeClock]) -> None:
    handle, rest, _ = sim
    handle.fleet.add_containers(2)  # 6 events
    handle.faults.set(Faults(events_drop_after=4))
    data = raw_stream(rest, "stream=true&since=0", b"\r\n0\r\n\r\n")
    body = data.split(b"\r\n\r\n", 1)[1]
    assert b"Transfer-Encoding: chunked" in data and not body.endswith(b"0\r\n\r\n")
    payload = b"".join(part for part in body.split(b"\r\n")[1::2])
    complete, _, partial = payload.rpartition(b"\n")
    assert len(complete.splitlines()) == 4 and partial and not partial.endswith(b"}")


def test_malformed_fault_adds_bad_lines_before_events(
        sim: tuple[SimulatorHandle, RestServer, FakeClock]) -> None:
    handle, rest, _ = sim
    handle.fleet.add_containers(1)
    handle.faults.set(Faults(malformed_rate=1.0))
    _, body = get(rest, "/v4.0.0/libpod/events?stream=false")
    good, bad = 0, 0
    for line in body.splitlines(keepends=True):
        try:
            parse_event(line)
            good += 1
        except ValueError:
            bad += 1
    assert (good, bad) == (3, 3)


def test_event_faults_through_the_control_interface(
        sim: tuple[SimulatorHandle, RestServer, FakeClock]) -> None:
    handle, _, _ = sim
    client = varlink.Client(address=handle.address)
    client.add_interface(control_interface())
    control = client.open(CONTROL_INTERFACE)
    faults = control.SetFaults({"events_drop_after": 3, "events_flood": 2000.0})["faults"]
    assert (faults["events_drop_after"], faults["events_flood"]) == (3, 2000.0)
    assert handle.faults.current.events_flood == 2000.0
    assert handle.fleet.event_flood() == 2000.0
    with pytest.raises(varlink.VarlinkError):
        control.SetFaults({"events_drop_after": -1})
    assert control.ClearFaults()["faults"]["events_flood"] == 0.0


def test_log_keeps_its_capacity() -> None:
    log = EventLog(capacity=10)
    for i in range(25):
        log.append(event_record("container", "exec", "a" * 64, name="n", image="i",
                                time_nano=i))
    kept, seq = log.since(None)
    assert seq == 25 and [e.time_nano for e in kept] == list(range(15, 25))
    assert [e.seq for e in log.after(20, timeout=0)] == [21, 22, 23, 24, 25]
    assert log.after(0, timeout=0)[0].seq >= 11  # what was trimmed is gone


def test_simulate_flags_for_events() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--socket", "/tmp/x.sock", "--rest-socket", "/tmp/r.sock",
                              "--crash-loopers", "2", "--events-flood", "2000",
                              "--events-drop-after", "50"])
    _, options = options_from_args(args)
    assert (options.crash_loopers, options.faults.events_flood,
            options.faults.events_drop_after) == (2, 2000.0, 50)
    assert args.rest_socket == "/tmp/r.sock"
    with pytest.raises(ValueError, match="--events-flood"):
        options_from_args(parser.parse_args(["--socket", "/x", "--events-flood", "-1"]))
