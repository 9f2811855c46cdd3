"""HTTP limits of the server, against a real uvicorn server in a thread with small limits."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families as parse_text

from podman_exporter.exposition.negotiate import accepts_gzip
from podman_exporter.exposition.render import ExpositionCache
from podman_exporter.metrics.labels import MAX_LABEL_VALUE_BYTES, TRUNCATED, clean
from podman_exporter.metrics.options import MetricOptions
from podman_exporter.snapshot.model import Container, ContainerState
from podman_exporter.snapshot.snapshot import CollectorStatus, Snapshot
from podman_exporter.web.asgi import Receive, Scope, Send, respond
from podman_exporter.web.http_limits import HttpLimits, ListenerStats
from podman_exporter.web.server import bind, connection_cap, uvicorn_config

LIMITS = HttpLimits(header_timeout=0.3, max_head_bytes=4096, max_connections=8)


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await respond(send, 200, f"port {scope['server'][1]}\n".encode())


@contextmanager
def serving(limits: HttpLimits = LIMITS, listeners: int = 1) -> Iterator[tuple[list[int],
                                                                               ListenerStats]]:
    """Serve ``hello`` on ``listeners`` loopback ports in a thread; yield ports and stats."""
    sockets = bind(tuple(("127.0.0.1", 0) for _ in range(listeners)))
    ports = [s.getsockname()[1] for s in sockets]
    config = uvicorn_config(hello, limits)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield ports, config.http_protocol_class.stats  # type: ignore[attr-defined]
    finally:
        server.should_exit = True
        thread.join(10)
        for sock in sockets:
            sock.close()


def request(port: int, head: bytes = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") -> bytes:
    """Return everything the server answers to ``head`` before it closes or 2 s pass."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(head)
        return read_answer(sock)


def read_answer(sock: socket.socket) -> bytes:
    data = b""
    try:
        while b"\r\n\r\n" not in data or not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def closed_by_server(sock: socket.socket) -> tuple[bool, bytes]:
    """Return (closed, what was sent before) for a connection, waiting up to 2 s."""
    sock.settimeout(2)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        return False, data
    except ConnectionResetError:
        pass
    return True, data


def test_a_complete_request_is_answered() -> None:
    with serving() as (ports, _):
        assert request(ports[0]).startswith(b"HTTP/1.1 200")


def test_silent_and_slow_heads_are_closed_after_the_header_timeout() -> None:
    """A client that connects and never finishes its head is answered 408 and
    disconnected, whether it sent nothing or trickles bytes."""
    with serving() as (ports, stats):
        silent = socket.create_connection(("127.0.0.1", ports[0]))
        slow = socket.create_connection(("127.0.0.1", ports[0]))
        slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        for _ in range(3):  # keeps sending, never finishes
            time.sleep(0.05)
            slow.sendall(b"X-A: b\r\n")
        for sock in (silent, slow):
            closed, answer = closed_by_server(sock)
            sock.close()
            assert closed
            assert answer.startswith(b"HTTP/1.1 408")
        assert stats.timed_out == 2


def test_the_timeout_applies_again_after_a_keep_alive_request() -> None:
    with serving() as (ports, stats):
        with socket.create_connection(("127.0.0.1", ports[0]), timeout=2) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_answer(sock).startswith(b"HTTP/1.1 200")
            time.sleep(0.5)  # idle keep-alive longer than the head timeout: kept
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_answer(sock).startswith(b"HTTP/1.1 200")
            sock.sendall(b"GET / HTTP/1.1\r\n")  # a second head that never ends
            closed, answer = closed_by_server(sock)
        assert closed and answer.startswith(b"HTTP/1.1 408")
        assert stats.timed_out == 1


def test_a_head_past_the_limit_is_refused_with_431() -> None:
    """One header streamed past max_head_bytes is refused before it is complete."""
    with serving() as (ports, stats):
        with socket.create_connection(("127.0.0.1", ports[0]), timeout=2) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
            sent = 0
            try:
                while sent < 64_000_000:
                    sock.sendall(b"a" * 65536)
                    sent += 65536
            except (BrokenPipeError, ConnectionResetError):
                pass
            _, answer = closed_by_server(sock)
        assert answer.startswith(b"HTTP/1.1 431"), answer[:80]
        assert sent < 64_000_000  # cut off; what got through sat in the kernel's buffers
        assert stats.too_large == 1


def test_a_large_head_in_one_piece_is_refused() -> None:
    big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n"
    with serving() as (ports, _):
        assert request(ports[0], big).startswith(b"HTTP/1.1 431")
        edge = b"GET / HTTP/1.1\r\nHost: x\r\nX-Ok: " + b"a" * 3000 + b"\r\n\r\n"
        assert request(ports[0], edge).startswith(b"HTTP/1.1 200")


def test_half_open_sockets_do_not_refuse_complete_requests() -> None:
    """Past max_connections, the oldest connection still sending its head is closed
    to make room; a complete request is answered, on every listener."""
    with serving(HttpLimits(header_timeout=30, max_head_bytes=4096, max_connections=8),
                 listeners=2) as (ports, stats):
        idle = [socket.create_connection(("127.0.0.1", p)) for p in ports for _ in range(20)]
        try:
            for sock in idle:
                sock.sendall(b"GET / HTTP/1.1\r\n")
            time.sleep(0.2)
            for port in ports:
                for _ in range(5):
                    assert request(port).startswith(b"HTTP/1.1 200")
                assert len(stats.open.get(port, {})) <= 8
            assert stats.evicted >= 2 * 12
            assert stats.refused == 0
        finally:
            for sock in idle:
                sock.close()


def test_connections_being_answered_are_never_evicted() -> None:
    """With every slot busy answering, a new connection gets 503, not a victim."""
    gate = threading.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            while not gate.is_set():
                await asyncio.sleep(0.01)
            await respond(send, 200, b"done\n")

    sockets = bind((("127.0.0.1", 0),))
    port = sockets[0].getsockname()[1]
    config = uvicorn_config(slow, HttpLimits(header_timeout=5, max_connections=2))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    busy = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
    try:
        for sock in busy:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        assert request(port).startswith(b"HTTP/1.1 503")
        gate.set()
        for sock in busy:
            assert read_answer(sock).startswith(b"HTTP/1.1 200")
    finally:
        gate.set()
        for sock in busy:
            sock.close()
        server.should_exit = True
        thread.join(10)
        sockets[0].close()


def test_connection_cap_leaves_descriptors_free() -> None:
    assert connection_cap(2, 20000) == 1024
    assert connection_cap(2, 1024) == (1024 - 64) // 2
    assert connection_cap(1, 10) == 16


# negotiation never raises; it falls back to text and identity.

@pytest.mark.parametrize(("value", "expected"), [
    ("gzip", True), ("deflate, gzip;q=0.5", True), ("gzip;q=0", False), ("identity", False),
    ("*", True), ("", False), ("br;q=1.0, gzip;q=0.0", False),
    ("*;q=0, gzip", True), ("gzip, *;q=0", True), ("*;q=0", False), ("gzip;q=0, *", False),
    ("gzip;q=\xb2", False), ("gzip;q=\u0663", False), ("gzip;q=nan", False),
    ("gzip;q=inf", False), ("gzip;q=1e3", False), ("gzip;q=-1", False), ("gzip;q=1.5", False),
    ("gzip;q=0.001", True), ("GZIP ; Q=1.000", True), ("gzip;level=1;q=0.5", True),
    ("gzip;q=", False), (";;,,", False), ("\xff\x00", False),
])
def test_accepts_gzip(value: str, expected: bool) -> None:
    assert accepts_gzip(value) is expected


def snapshot(name: str = "web") -> Snapshot:
    return Snapshot(
        taken_at=1700000000.0, up=True, api="varlink",
        containers=(Container(id="f" * 64, name=name, state=ContainerState.RUNNING),),
        collectors=(CollectorStatus("containers", True, 0.01),),
        last_success=1700000000.0,
    )


@pytest.mark.parametrize("accept", [
    "application/openmetrics-text;version=\xff",
    "application/openmetrics-text; version=1.0.0; charset=\xb2",
    "application/openmetrics-text;version=1.0.0;q=\xb2",
    "application/openmetrics-text;q=x;version=",
    "application/openmetrics-text;;;=;version=9.9.9",
    "application/openmetrics-text" + ";a=b" * 1000,
])
def test_negotiate_never_raises(accept: str) -> None:
    cache = ExpositionCache(MetricOptions())
    cache.publish(snapshot())
    assert cache.current is not None
    body = cache.current.negotiate(accept)
    assert body in (cache.current.text, cache.current.openmetrics)


def test_negotiate_still_picks_openmetrics() -> None:
    cache = ExpositionCache(MetricOptions())
    cache.publish(snapshot())
    assert cache.current is not None
    om = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4"
    assert cache.current.negotiate(om) is cache.current.openmetrics
    assert cache.current.negotiate("text/plain") is cache.current.text
    assert cache.current.negotiate("application/openmetrics-text;version=\xff") is \
        cache.current.text


# label values are capped at render time.

def test_long_label_values_are_truncated_on_a_character_boundary() -> None:
    assert clean("x" * MAX_LABEL_VALUE_BYTES) == "x" * MAX_LABEL_VALUE_BYTES
    long = clean("é" * 100_000)
    assert long.endswith(TRUNCATED)
    assert len(long.encode()) <= MAX_LABEL_VALUE_BYTES
    assert long.removesuffix(TRUNCATED) == "é" * len(long.removesuffix(TRUNCATED))


def test_a_100kb_label_value_gives_a_short_line() -> None:
    cache = ExpositionCache(MetricOptions())
    cache.publish(snapshot(name="n" * 100_000))
    assert cache.current is not None
    text = cache.current.text.join().decode()
    longest = max(len(line.encode()) for line in text.splitlines())
    assert longest < 2 * MAX_LABEL_VALUE_BYTES + 300
    families = {f.name: f for f in parse_text(text)}
    name = families["podman_container_info"].samples[0].labels["name"]
    assert name == "n" * (MAX_LABEL_VALUE_BYTES - len(TRUNCATED.encode())) + TRUNCATED


@pytest.mark.parametrize(("name", "value"), [
    (b"accept-encoding", b"gzip;q=\xb2"),
    (b"accept-encoding", b"*;q=0, gzip"),
    (b"accept", b"application/openmetrics-text;version=\xff"),
])
def test_malformed_headers_get_an_answer_not_a_500(name: bytes, value: bytes) -> None:
    """Malformed negotiation headers end to end through MetricsApp: an answer, never a
    500."""
    from podman_exporter.web.app import MetricsApp

    cache = ExpositionCache(MetricOptions())
    cache.publish(snapshot())
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/metrics", "headers": [(name, value)]}
    asyncio.run(MetricsApp(cache)(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 200
    headers = dict(sent[0]["headers"])  # type: ignore[call-overload]
    assert headers[b"content-type"].startswith(b"text/plain")
    gzipped = headers.get(b"content-encoding") == b"gzip"
    assert gzipped is (value == b"*;q=0, gzip")
