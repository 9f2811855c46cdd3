"""EventStream against the simulator's REST event stream: every event once, across
dropped streams, a vanished socket, idle timeouts and a flood; clean stops.

Waits poll until a condition holds (``wait_for``); they bound a hang, they do not
measure speed.
"""

from __future__ import annotations

import http.client
import random
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from podman_exporter.podman.event_stream import Backoff, EventStream, connection_factory
from podman_exporter.podman.events import Event, EventKey, parse_event
from podman_exporter.podman.rest_http import UnixHTTPConnection
from podman_exporter.sim import SimOptions, SimulatorHandle, start_simulator
from podman_exporter.sim.faults import Faults
from podman_exporter.sim.rest import RestServer

FAST = Backoff(initial=0.01, cap=0.1, rng=random.Random(0))


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.005)


class Received:
    """What the stream's callbacks were given."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.states: list[bool] = []
        self.bad: list[str] = []
        self.lock = threading.Lock()

    def on_event(self, event: Event) -> None:
        with self.lock:
            self.events.append(event)

    def keys(self) -> list[EventKey]:
        with self.lock:
            return [e.key for e in self.events]


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[tuple[SimulatorHandle, RestServer]]:
    handle = start_simulator(f"unix:{tmp_path / 'v.sock'}",
                             SimOptions(containers=3, images=3, seed=11))
    rest = handle.serve_rest(str(tmp_path / "r.sock"))
    yield handle, rest
    handle.stop()


def open_stream(url: str, got: Received, **kw: object) -> EventStream:
    kw.setdefault("backoff", FAST)
    stream = EventStream(url, got.on_event, on_state=got.states.append, on_bad=got.bad.append,
                         **kw)  # type: ignore[arg-type]
    stream.start()
    return stream


def connected(handle: SimulatorHandle, stream: EventStream) -> int:
    """Return the log's last sequence number once the stream is connected."""
    wait_for(lambda: stream.connected, "the stream to connect")
    return handle.fleet.events.last_seq


def logged_since(handle: SimulatorHandle, seq: int) -> list[EventKey]:
    handle.fleet.pump()
    return [parse_event(e.line).key for e in handle.fleet.events.since(None)[0] if e.seq > seq]


def test_every_event_once_in_order(sim: tuple[SimulatorHandle, RestServer]) -> None:
    handle, rest = sim
    got = Received()
    stream = open_stream(rest.url, got)
    try:
        seq = connected(handle, stream)
        ids = handle.fleet.add_containers(5)
        handle.fleet.stop(ids[0])
        handle.fleet.restart(ids[1])
        handle.fleet.remove(ids[2], force=True)
        expected = logged_since(handle, seq)
        assert len(expected) == 15 + 2 + 5 + 3
        wait_for(lambda: len(got.keys()) >= len(expected), "every event")
        assert got.keys() == expected
        assert got.states == [True] and not got.bad
    finally:
        assert stream.stop()
    assert got.states == [True, False]


def test_dropped_streams_resume_without_loss_or_repeat(
        sim: tuple[SimulatorHandle, RestServer]) -> None:
    handle, rest = sim
    got = Received()
    handle.faults.set(Faults(events_drop_after=4))
    stream = open_stream(rest.url, got, lookback=0.05)
    try:
        seq = connected(handle, stream)
        for _ in range(20):  # 3 events a batch, batches 60 ms apart (the lookback is 50 ms)
            handle.fleet.add_containers(1)
            time.sleep(0.06)
        expected = logged_since(handle, seq)
        wait_for(lambda: len(got.keys()) >= len(expected), "every event")
        assert got.keys() == expected
        assert stream.connections >= 15
    finally:
        assert stream.stop()


def test_vanished_socket_reconnects_and_replays_what_happened_meanwhile(
        sim: tuple[SimulatorHandle, RestServer]) -> None:
    handle, rest = sim
    got = Received()
    stream = open_stream(rest.url, got)
    try:
        seq = connected(handle, stream)
        handle.fleet.add_containers(2)
        wait_for(lambda: len(got.keys()) == 6, "the first events")
        rest.stop()  # Podman stops: the socket goes away
        wait_for(lambda: not stream.connected, "the stream to notice")
        ids = handle.fleet.add_containers(3)
        handle.fleet.stop(ids[0])
        time.sleep(0.2)  # a few failed attempts
        handle.serve_rest(rest.path)
        handle.fleet.add_containers(1)
        expected = logged_since(handle, seq)
        wait_for(lambda: len(got.keys()) >= len(expected), "every event")
        assert got.keys() == expected
        assert got.states == [True, False, True]
    finally:
        assert stream.stop()


def test_idle_connections_are_renewed_without_loss(
        sim: tuple[SimulatorHandle, RestServer]) -> None:
    handle, rest = sim
    got = Received()
    stream = open_stream(rest.url, got, idle_timeout=0.05)
    try:
        seq = connected(handle, stream)
        wait_for(lambda: stream.connections >= 3, "idle reconnections")
        handle.fleet.add_containers(4)
        expected = logged_since(handle, seq)
        wait_for(lambda: len(got.keys()) >= len(expected), "every event")
        assert got.keys() == expected
        assert got.states == [True]  # renewing an idle connection is no outage
    finally:
        assert stream.stop()


def test_a_flood_is_kept_up_with(sim: tuple[SimulatorHandle, RestServer]) -> None:
    handle, rest = sim
    got = Received()
    stream = open_stream(rest.url, got)
    try:
        seq = connected(handle, stream)
        handle.faults.set(Faults(events_flood=2000.0))
        wait_for(lambda: len(got.keys()) >= 6000, "6000 events of the flood")
        handle.faults.set(Faults())
        expected = logged_since(handle, seq)
        assert len(expected) >= 6000
        wait_for(lambda: len(got.keys()) >= len(expected), "every event")
        assert got.keys() == expected
    finally:
        assert stream.stop()


def test_malformed_lines_are_counted_and_skipped(
        sim: tuple[SimulatorHandle, RestServer]) -> None:
    handle, rest = sim
    got = Received()
    stream = open_stream(rest.url, got)
    try:
        seq = connected(handle, stream)
        handle.faults.set(Faults(malformed_rate=0.5))
        handle.fleet.add_containers(20)
        expected = logged_since(handle, seq)
        wait_for(lambda: len(got.keys()) >= len(expected), "every event")
        assert got.keys() == expected
        assert 0 < len(got.bad) == stream.bad_lines < 60
    finally:
        assert stream.stop()


def test_a_failing_callback_does_not_end_the_stream(
        sim: tuple[SimulatorHandle, RestServer], caplog: pytest.LogCaptureFixture) -> None:
    handle, rest = sim
    got = Received()

    def on_event(event: Event) -> None:
        if event.action == "create":
            raise RuntimeError("bug")
        got.on_event(event)

    stream = EventStream(rest.url, on_event, backoff=FAST)
    stream.start()
    try:
        connected(handle, stream)
        handle.fleet.add_containers(2)
        wait_for(lambda: len(got.keys()) == 4, "init and start of both")
        assert stream.connections == 1
        assert "Podman event callback failed" in caplog.text
    finally:
        assert stream.stop()


def test_stop_while_retrying_a_missing_socket(tmp_path: Path) -> None:
    got = Received()
    stream = open_stream(f"unix://{tmp_path / 'nothing.sock'}", got,
                         backoff=Backoff(initial=60.0, cap=60.0))
    time.sleep(0.05)
    assert stream.stop()
    assert got.states == [] and not stream.connected


class _Failing(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    requests = 0


class _Answer500(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Failing

    def do_GET(self) -> None:
        self.server.requests += 1
        body = b'{"cause":"boom","message":"boom","response":500}\n'
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_an_error_answer_is_not_a_connection(tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    path = str(tmp_path / "err.sock")
    server = _Failing(path, _Answer500)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    got = Received()
    stream = open_stream(f"unix://{path}", got)
    try:
        wait_for(lambda: server.requests >= 3, "retries")
        assert not stream.connected and stream.connections == 0 and got.states == []
        assert caplog.text.count("HTTP 500: ") == 1  # once, not at every attempt
    finally:
        assert stream.stop()
        server.shutdown()
        server.server_close()


def test_connection_factory_speaks_unix_and_tcp_urls() -> None:
    unix = connection_factory("unix:///run/podman/podman.sock")(2.0)
    assert isinstance(unix, UnixHTTPConnection) and unix.unix_path == "/run/podman/podman.sock"
    assert unix.timeout == 2.0
    tcp = connection_factory("tcp://127.0.0.1:8888")(3.0)
    assert (type(tcp), tcp.host, tcp.port, tcp.timeout) == (
        http.client.HTTPConnection, "127.0.0.1", 8888, 3.0)
    with pytest.raises(ValueError):
        connection_factory("ftp://host/x")


class _Canned(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    body = b""


class _AnswerCanned(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Canned

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, *args: object) -> None:
        pass


def test_an_overlong_line_is_bad_and_the_next_one_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("podman_exporter.podman.event_stream.MAX_LINE", 100)
    path = str(tmp_path / "long.sock")
    server = _Canned(path, _AnswerCanned)
    good = b'{"Type":"container","Action":"died","timeNano":5,"Actor":{"ID":"a"}}\n'
    server.body = b'{"Type":"' + b"x" * 200 + b'"}\n' + good
    threading.Thread(target=server.serve_forever, daemon=True).start()
    got = Received()
    stream = open_stream(f"unix://{path}", got)
    try:
        wait_for(lambda: len(got.keys()) >= 1 and len(got.bad) >= 1, "the good line")
        assert got.keys()[0] == parse_event(good).key and got.bad[0].startswith("line longer")
        assert len(good) < 100
    finally:
        assert stream.stop()
        server.shutdown()
        server.server_close()
