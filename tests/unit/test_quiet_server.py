"""QuietServer: uvicorn without its 0.1 s tick still exits on request and on SIGTERM,
keeps the Date header current and keeps the HTTP limits (real server on loopback)."""

from __future__ import annotations

import email.utils
import http.client
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from podman_exporter.web.asgi import Receive, Scope, Send, respond
from podman_exporter.web.http_limits import HttpLimits
from podman_exporter.web.server import QuietServer, bind, uvicorn_config


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await respond(send, 200, b"hello\n")


class CountingServer(QuietServer):
    """Counts the main loop's ticks (each one a wake-up of the event loop)."""

    ticks = 0

    async def on_tick(self, counter: int) -> bool:
        self.ticks += 1
        return await super().on_tick(counter)


@contextmanager
def running(config: uvicorn.Config) -> Iterator[tuple[CountingServer, int, threading.Thread]]:
    """Run a CountingServer in a thread on a loopback port; yield it, the port and the
    thread (the test asks it to exit)."""
    sockets = bind((("127.0.0.1", 0),))
    server = CountingServer(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield server, sockets[0].getsockname()[1], thread
    finally:
        server.should_exit = True
        thread.join(30)
        sockets[0].close()


def get(conn: http.client.HTTPConnection) -> http.client.HTTPResponse:
    conn.request("GET", "/")
    response = conn.getresponse()
    response.read()
    return response


def test_an_idle_server_does_not_tick_and_exits_at_once_when_asked() -> None:
    with running(uvicorn_config(hello)) as (server, port, thread):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        assert get(conn).status == 200
        conn.close()
        time.sleep(1.5)  # uvicorn's own loop ticks about 15 times meanwhile
        assert server.ticks == 1
        server.should_exit = True  # from another thread; there is no tick to notice it
        thread.join(30)
        assert not thread.is_alive()
        assert server.ticks == 2


def test_the_date_header_stays_current_without_a_tick() -> None:
    with running(uvicorn_config(hello)) as (_, port, _thread):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        dates = []
        for _ in range(2):
            before = int(time.time())
            response = get(conn)
            after = time.time()
            date = email.utils.parsedate_to_datetime(response.getheader("date") or "")
            assert before <= date.timestamp() <= after
            dates.append(date)
            time.sleep(1.1)
        assert dates[1] > dates[0]
        conn.close()


def test_the_header_timeout_still_answers_408() -> None:
    config = uvicorn_config(hello, HttpLimits(header_timeout=0.3))
    with running(config) as (_, port, _thread), \
            socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")  # a head that never ends
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408")


def test_with_limit_max_requests_uvicorn_s_own_loop_runs() -> None:
    config = uvicorn_config(hello)
    config.limit_max_requests = 1
    config.limit_max_requests_jitter = 0
    with running(config) as (server, port, thread):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        assert get(conn).status == 200
        conn.close()
        thread.join(30)  # uvicorn's tick notices the limit and exits by itself
        assert not thread.is_alive()
        assert server.ticks > 1


SERVE = textwrap.dedent("""
    import sys
    from podman_exporter.web.asgi import respond
    from podman_exporter.web.server import bind, serve

    async def hello(scope, receive, send):
        if scope["type"] == "http":
            await respond(send, 200, b"hello\\n")

    sockets = bind((("127.0.0.1", 0),))
    print(sockets[0].getsockname()[1], flush=True)
    serve(hello, sockets, None)
    print("returned", flush=True)
""")


def test_sigterm_stops_serve_which_returns() -> None:
    proc = subprocess.Popen([sys.executable, "-c", SERVE], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(500):  # until uvicorn serves
            try:
                assert get(conn).status == 200
                break
            except ConnectionRefusedError:
                time.sleep(0.02)
        conn.close()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert "returned" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
