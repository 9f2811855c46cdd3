"""The REST transport and backend against a small libpod-like HTTP server on a unix socket."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from podman_exporter.podman.backend import NotFound, PodmanError, PodmanUnavailable
from podman_exporter.podman.rest import RestBackend
from podman_exporter.podman.rest_http import API_PREFIX, HttpPool, socket_path, speaks_rest

Route = Callable[[dict[str, list[str]]], tuple[int, Any]]


class FakePodman(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Answers GET/POST on libpod paths from ``routes``; counts connections."""

    daemon_threads = True

    def __init__(self, path: str, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.connections = 0
        self.open_now = 0
        self.max_open = 0
        self.lock = threading.Lock()
        self.close_after_reply = False
        super().__init__(path, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet when a client gave up on a stuck reply (the timeout test)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakePodman

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1
            self.server.open_now += 1
            self.server.max_open = max(self.server.max_open, self.server.open_now)

    def finish(self) -> None:
        super().finish()
        with self.server.lock:
            self.server.open_now -= 1

    def address_string(self) -> str:
        return "unix"

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        url = urlsplit(self.path)
        path = url.path.removeprefix(API_PREFIX)
        route = self.server.routes.get(f"{self.command} {path}")
        status, doc = route(parse_qs(url.query)) if route else (404, {"message": "no such"})
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.server.close_after_reply:
            self.close_connection = True

    do_GET = do_POST = do_DELETE = _answer  # noqa: N815


@pytest.fixture()
def serve(tmp_path: Path) -> Iterator[Callable[[dict[str, Route]], FakePodman]]:
    """Return a starter of fake servers on a socket in tmp_path."""
    servers: list[FakePodman] = []

    def start(routes: dict[str, Route]) -> FakePodman:
        server = FakePodman(str(tmp_path / f"p{len(servers)}.sock"), routes)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_socket_path() -> None:
    assert socket_path("unix:///run/podman/podman.sock") == "/run/podman/podman.sock"
    assert socket_path("unix:/run/p.sock") == "/run/p.sock"
    assert socket_path("/run/p.sock") == "/run/p.sock"
    for bad in ("tcp://host:1", "unix://relative", "http://x"):
        with pytest.raises(ValueError, match="Podman URL"):
            socket_path(bad)


def test_keep_alive_and_errors(serve: Callable[[dict[str, Route]], FakePodman]) -> None:
    server = serve({
        "GET /ok": lambda q: (200, {"q": q}),
        "GET /boom": lambda q: (500, {"message": "storage broke"}),
        "GET /text": lambda q: (200, b"not json"),
    })
    pool = HttpPool(server.server_address, timeout=5, size=2)  # type: ignore[arg-type]
    for i in range(5):
        assert pool.get_json("/ok", [("n", str(i))]) == {"q": {"n": [str(i)]}}
    assert server.connections == 1
    with pytest.raises(NotFound):
        pool.get_json("/missing")
    with pytest.raises(PodmanError, match="storage broke"):
        pool.get_json("/boom")
    with pytest.raises(PodmanError, match="not JSON"):
        pool.get_json("/text")
    pool.close()


def test_reconnects_after_server_closed_idle_connection(
        serve: Callable[[dict[str, Route]], FakePodman]) -> None:
    server = serve({"GET /ok": lambda q: (200, [1])})
    server.close_after_reply = True
    pool = HttpPool(server.server_address, timeout=5, size=1)  # type: ignore[arg-type]
    assert [pool.get_json("/ok") for _ in range(3)] == [[1], [1], [1]]
    assert server.connections == 3


def test_threads_share_a_bounded_pool(serve: Callable[[dict[str, Route]], FakePodman]) -> None:
    def slow(q: dict[str, list[str]]) -> tuple[int, Any]:
        time.sleep(0.01)
        return 200, q["n"]

    server = serve({"GET /slow": slow})
    pool = HttpPool(server.server_address, timeout=30, size=2)  # type: ignore[arg-type]
    results: dict[str, Any] = {}

    def worker(t: int) -> None:
        for i in range(10):
            results[f"{t}-{i}"] = pool.get_json("/slow", [("n", f"{t}-{i}")])

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {k: [k] for k in results} and len(results) == 60
    assert server.max_open <= 2


def test_unreachable(tmp_path: Path, serve: Callable[[dict[str, Route]], FakePodman]) -> None:
    with pytest.raises(PodmanUnavailable):
        HttpPool(str(tmp_path / "none.sock"), timeout=1, size=1).get_json("/x")
    hang = threading.Event()

    def stuck(q: dict[str, list[str]]) -> tuple[int, Any]:
        hang.wait(5)
        return 200, []

    server = serve({"GET /hang": stuck})
    with pytest.raises(PodmanUnavailable):
        HttpPool(server.server_address, timeout=0.2, size=1).get_json("/hang")  # type: ignore[arg-type]
    hang.set()


def test_speaks_rest(tmp_path: Path, serve: Callable[[dict[str, Route]], FakePodman]) -> None:
    assert not speaks_rest(str(tmp_path / "none.sock"), 1)
    assert not speaks_rest(serve({}).server_address, 1)  # type: ignore[arg-type]
    ping = serve({"GET /_ping": lambda q: (200, b"OK")})
    assert speaks_rest(ping.server_address, 1)  # type: ignore[arg-type]


def test_stats_fall_back_when_an_id_vanished(
        serve: Callable[[dict[str, Route]], FakePodman]) -> None:
    def stats(q: dict[str, list[str]]) -> tuple[int, Any]:
        if "containers" in q and "gone" in q["containers"]:
            return 200, {"Error": {}, "Stats": None}
        return 200, {"Error": None, "Stats": [
            {"ContainerID": cid, "CPUNano": 2_000_000_000, "MemUsage": 5}
            for cid in ("a", "b", "stopped")]}

    server = serve({"GET /containers/stats": stats})
    backend = RestBackend(f"unix://{server.server_address}", timeout=5, connections=1)
    assert [s.id for s in backend.container_stats(["a", "b"]).items] == ["a", "b"]
    batch = backend.container_stats(["b", "gone"])
    assert [(s.id, s.cpu_seconds) for s in batch.items] == [("b", 2.0)]
    assert backend.container_stats([]).items == ()
