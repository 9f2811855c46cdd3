"""The simulated Podman's REST API, as far as the event stream goes.

``GET /v<version>/libpod/events`` (``stream``, ``since``, ``until``, ``filters``) and
``GET /_ping`` on a unix socket, answered as Podman 4.3.1 answers: chunked, one JSON
object a line, ``since`` exclusive; without ``since`` a stream starts now and a
non-stream answer has the whole log. Faults (sim/faults.py): ``events_drop_after``,
``malformed_rate``; ``events_flood`` acts on the fleet's log.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import socketserver
import threading
from collections.abc import Iterable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from podman_exporter.sim.context import SimContext
from podman_exporter.sim.events import LoggedEvent, matches, parse_time

_EVENTS = re.compile(r"(/v[0-9.]+)?/libpod/events")
_POLL = 0.02
"""Seconds a stream waits for new events before it looks at the fleet again."""
_HEADERS = (("Api-Version", "1.41"), ("Libpod-Api-Version", "4.3.1"),
            ("Server", "Libpod/4.3.1 (linux)"))
_BAD_LINES = (b'{"status":"died","Type":"container"\n', b"[1,2,3]\n",
              b'{"Type":"container","Action":"died","timeNano":"soon"}\n', b"\xff\xfe{}\n")


class Dropped(Exception):
    """The stream was cut on purpose (the ``events_drop_after`` fault)."""


class RestServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Serves the event stream of one simulator's fleet; ``stop()`` ends every stream,
    closes the listener and removes the socket file."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, path: str, ctx: SimContext) -> None:
        self.path = path
        self.ctx = ctx
        self.closing = threading.Event()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(path, _Handler)
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="podman-sim-rest", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Return the ``unix:///path`` URL of the socket."""
        return f"unix://{self.path}"

    def track(self, conn: socket.socket, active: bool) -> None:
        """Record an open (or closed) connection."""
        with self._lock:
            (self._conns.add if active else self._conns.discard)(conn)

    def stop(self) -> None:
        """Stop serving; idempotent."""
        if self.closing.is_set():
            return
        self.closing.set()
        self.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self.server_close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._thread.join(5)

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet about clients that went away."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RestServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.request, True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.track(self.request, False)

    def address_string(self) -> str:
        return "unix"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path.endswith("/_ping"):
            self._reply(200, b"OK", "text/plain; charset=utf-8")
        elif _EVENTS.fullmatch(url.path):
            self._events(parse_qs(url.query))
        else:
            self._error(404, f"no route for {url.path}")

    def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        for name, value in _HEADERS:
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        doc = {"cause": message, "message": message, "response": status}
        self._reply(status, json.dumps(doc).encode() + b"\n")

    def _events(self, query: Mapping[str, Sequence[str]]) -> None:
        stream = query.get("stream", ["true"])[-1].lower() not in ("false", "0")
        times = {}
        for key in ("since", "until"):
            text = query.get(key, [""])[-1]
            times[key] = parse_time(text) if text else None
            if text and times[key] is None:
                return self._error(400, f"invalid {key} {text!r}")
        try:
            filters = json.loads(query.get("filters", ["{}"])[-1])
            if not isinstance(filters, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            return self._error(400, f"invalid filters: {exc}")
        ctx = self.server.ctx
        ctx.fleet.pump()
        backlog, seq = ctx.fleet.events.since(times["since"], times["until"])
        if stream and times["since"] is None:
            backlog = []
        self.send_response(200)
        for name, value in (*_HEADERS, ("Content-Type", "application/json"),
                            ("Transfer-Encoding", "chunked")):
            self.send_header(name, value)
        self.end_headers()
        sender = _Sender(self, filters)
        try:
            sender.send(backlog)
            while stream and not (ctx.stop.is_set() or self.server.closing.is_set()):
                ctx.fleet.pump()
                new = ctx.fleet.events.after(seq, _POLL)
                if new:
                    seq = new[-1].seq
                    sender.send(new)
            self.wfile.write(b"0\r\n\r\n")
        except (Dropped, OSError):
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.request.shutdown(socket.SHUT_RDWR)
        return None


class _Sender:
    """Writes events as chunks, applying the stream's faults."""

    def __init__(self, handler: _Handler, filters: Mapping[str, Sequence[str]]) -> None:
        self._handler = handler
        self._filters = filters
        self._faults = handler.server.ctx.faults
        self._sent = 0

    def send(self, events: Iterable[LoggedEvent]) -> None:
        """Write the events that pass the filters; raise Dropped when the drop fault cuts
        the stream (after writing half of the next line)."""
        faults = self._faults.current
        data = bytearray()
        for e in events:
            if not matches(e, self._filters):
                continue
            if faults.events_drop_after and self._sent >= faults.events_drop_after:
                data += e.line[: len(e.line) // 2]
                self._write(data)
                raise Dropped
            if faults.malformed_rate and self._faults.chance(faults.malformed_rate):
                data += _BAD_LINES[e.seq % len(_BAD_LINES)]
            data += e.line
            self._sent += 1
        self._write(data)

    def _write(self, data: bytes | bytearray) -> None:
        if data:
            self._handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self._handler.wfile.flush()


def start_rest(path: str, ctx: SimContext) -> RestServer:
    """Serve the REST event stream of ``ctx``'s fleet on a unix socket at ``path`` (a stale
    socket file there is replaced); return once it listens."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return RestServer(path, ctx)
