"""Reads Podman's event stream (``GET /libpod/events?stream=true``) in a daemon thread.

One long-lived request per Podman endpoint, over the transport the REST client uses
(``http.client`` on the unix socket). When Podman restarts or its socket goes away the
stream reconnects with a capped, jittered backoff and resumes after the last event it
delivered, without losing or repeating one (``podman.events.Resume``).
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlencode, urlsplit

from podman_exporter.podman.events import Event, Resume, parse_event, rfc3339_nano
from podman_exporter.podman.rest_http import API_PREFIX, UnixHTTPConnection, socket_path

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_LINE = 1 << 20
"""Longest event line read, in bytes; a longer one is bad and skipped."""


@dataclass(slots=True)
class Backoff:
    """Waits between reconnection attempts: ``initial * factor**attempt`` capped at
    ``cap``, of which a random half is kept (equal jitter)."""

    initial: float = 0.5
    cap: float = 30.0
    factor: float = 2.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        """Return the seconds to wait before retry number ``attempt`` (0 for the first)."""
        full = min(self.cap, self.initial * self.factor ** min(attempt, 64))
        return full / 2 + self.rng.uniform(0.0, full / 2)


def connection_factory(url: str) -> Callable[[float], http.client.HTTPConnection]:
    """Return a factory of HTTP connections to Podman's REST API at ``url``:
    ``unix:///path``, ``unix:/path``, a plain path, or ``tcp://host:port`` /
    ``http://host:port``. Raises ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme in ("tcp", "http") and parts.hostname:
        host, port = parts.hostname, parts.port or 80
        return lambda timeout: http.client.HTTPConnection(host, port, timeout=timeout)
    path = socket_path(url)
    return lambda timeout: UnixHTTPConnection(path, timeout)


class EventStream:
    """Reads Podman's event stream in a daemon thread; see the module docstring.

    ``on_event`` gets every event once, in the order Podman sent them; ``on_state`` gets
    True when the stream is connected and False when it is lost; ``on_bad`` gets the
    reason of each line that is not an event (it is logged and skipped). Callbacks run in
    the stream's thread; an exception in one is logged and the stream goes on.
    ``idle_timeout`` ends a connection on which nothing came for that long (Podman sends
    nothing while idle, and a hung Podman nothing either): the stream reconnects at once
    and resumes, and stays connected unless that fails.
    """

    def __init__(
        self,
        url: str,
        on_event: Callable[[Event], None],
        *,
        on_state: Callable[[bool], None] | None = None,
        on_bad: Callable[[str], None] | None = None,
        connect_timeout: float = 5.0,
        idle_timeout: float = 300.0,
        lookback: float = 2.0,
        backoff: Backoff | None = None,
        wall_ns: Callable[[], int] = time.time_ns,
        connect: Callable[[float], http.client.HTTPConnection] | None = None,
    ) -> None:
        self.url = url
        self._on_event = on_event
        self._on_state = on_state
        self._on_bad = on_bad
        self._connect_timeout = connect_timeout
        self._idle_timeout = idle_timeout
        self._backoff = backoff or Backoff()
        self._wall_ns = wall_ns
        self._connect = connect or connection_factory(url)
        self._resume = Resume(int(lookback * 1e9))
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._connected = False
        self._down_logged = False
        self._lines = 0
        self.bad_lines = 0
        """Lines that were not events, since start."""
        self.connections = 0
        """Connections on which Podman answered 200, since start."""

    @property
    def connected(self) -> bool:
        """Return whether the stream is connected now."""
        return self._connected

    def start(self) -> None:
        """Start reading in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="podman-events", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> bool:
        """Stop reading and close the connection; return whether the thread ended within
        ``timeout`` seconds."""
        self._stop.set()
        with self._lock:
            sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):  # wakes a blocked read; the thread closes it
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            delivered, idle = self._session()
            if idle:  # renewed at once; connected until that fails
                continue
            self._set_state(False)
            if delivered:
                attempt = 0
            self._stop.wait(self._backoff.delay(attempt))
            attempt += 1
        self._set_state(False)

    def _session(self) -> tuple[bool, bool]:
        """Connect once and read until the connection ends; return (lines came on it, it
        ended idle)."""
        conn = self._connect(self._connect_timeout)
        try:
            conn.connect()
            with self._lock:
                self._sock = conn.sock
            if self._stop.is_set():
                return False, False
            since = self._resume.since()
            query = urlencode([("stream", "true")] +
                              ([("since", rfc3339_nano(since))] if since is not None else []))
            conn.request("GET", f"{API_PREFIX}/events?{query}",
                         headers={"Accept": "application/json"})
            resp = conn.getresponse()
            if resp.status != 200:
                body = resp.read(300).decode("utf-8", "replace").strip()
                self._log_down(f"unavailable: HTTP {resp.status}: {body}")
                return False, False
            self._resume.connected(self._wall_ns())
            self.connections += 1
            if conn.sock is not None:
                conn.sock.settimeout(self._idle_timeout)
            self._set_state(True)
            self._lines = 0
            idle = self._read(resp)
            return self._lines > 0, idle
        except (OSError, http.client.HTTPException) as exc:
            if not self._stop.is_set():
                self._log_down(f"unavailable: {exc!r}")
            return False, False
        finally:
            with self._lock:
                self._sock = None
            conn.close()

    def _read(self, resp: http.client.HTTPResponse) -> bool:
        """Read lines until the connection ends; return True when it ended idle."""
        while not self._stop.is_set():
            try:
                line = resp.readline(MAX_LINE)
                if len(line) >= MAX_LINE and not line.endswith(b"\n"):
                    self._bad(f"line longer than {MAX_LINE} bytes")
                    while line and not line.endswith(b"\n"):
                        line = resp.readline(MAX_LINE)
                    continue
            except TimeoutError:
                return True
            except (OSError, http.client.HTTPException) as exc:
                self._log_lost(repr(exc))
                return False
            if not line.endswith(b"\n"):  # the end of the stream, maybe mid-line
                self._log_lost("the connection was closed")
                return False
            self._lines += 1
            if self._lines == 1:
                self._down_logged = False
            if line.strip():
                self._line(line)
        return False

    def _line(self, line: bytes) -> None:
        try:
            event = parse_event(line)
        except ValueError as exc:
            self._bad(str(exc))
            return
        if self._resume.accept(event):
            self._call(self._on_event, event)

    def _bad(self, reason: str) -> None:
        self.bad_lines += 1
        if self.bad_lines == 1 or self.bad_lines % 1000 == 0:
            log.warning("malformed Podman events on %s: %d so far (last: %s)",
                        self.url, self.bad_lines, reason)
        if self._on_bad is not None:
            self._call(self._on_bad, reason)

    def _set_state(self, up: bool) -> None:
        if up == self._connected:
            return
        self._connected = up
        if up:
            log.info("Podman event stream on %s connected", self.url)
        if self._on_state is not None:
            self._call(self._on_state, up)

    def _log_lost(self, reason: str) -> None:
        if not self._stop.is_set():
            self._log_down(f"lost: {reason}")

    def _log_down(self, reason: str) -> None:
        """Log a failure: at warning once, then at debug until lines come again."""
        level = logging.DEBUG if self._down_logged else logging.WARNING
        log.log(level, "Podman event stream on %s: %s", self.url, reason)
        self._down_logged = True

    @staticmethod
    def _call(callback: Callable[[T], None], value: T) -> None:
        try:
            callback(value)
        except Exception:  # a bug in a callback must not end the stream
            log.exception("Podman event callback failed")
