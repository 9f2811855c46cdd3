"""HTTP/1.1 over Podman's unix socket: a small thread-safe keep-alive pool on ``http.client``.

``http.client`` was chosen over httpx and the ``podman`` bindings on measured
per-call cost (docs/performance.md, "REST client choice").
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import queue
import re
import socket
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from podman_exporter.podman.backend import NotFound, PodmanError, PodmanUnavailable

API_PREFIX = "/v4.0.0/libpod"
"""Podman 4 and 5 both serve the libpod API under this version prefix."""

_HOST = "d"  # Podman ignores the Host header; http.client needs one.

Params = Iterable[tuple[str, str]]


def socket_path(url: str) -> str:
    """Return the filesystem path of a ``unix:///path``, ``unix:/path`` or plain path URL.

    Raises ValueError for any other scheme.
    """
    if url.startswith("/"):
        return url
    parts = urlsplit(url)
    if parts.scheme != "unix":
        raise ValueError(f"unsupported Podman URL {url!r} (use unix:///path/to/podman.sock)")
    path = unquote(parts.netloc + parts.path)
    if not path.startswith("/"):
        raise ValueError(f"Podman URL {url!r} needs an absolute socket path")
    return path


class UnixHTTPConnection(http.client.HTTPConnection):
    """An ``http.client`` connection whose transport is a unix stream socket."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__(_HOST, timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        """Connect to the socket path, bounded by the timeout."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.unix_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
"""Characters ``urlencode`` keeps as they are."""


def _target(path: str, params: Params) -> str:
    """Return the request target: ``urlencode``'s query, built directly when no key or
    value needs quoting (container ids, flags: the 1,000 ids of a bulk stats call)."""
    pairs = list(params)
    try:
        plain = _UNRESERVED.fullmatch("".join(itertools.chain.from_iterable(pairs)))
    except TypeError:  # not all str: urlencode knows what to do
        plain = None
    query = "&".join(f"{k}={v}" for k, v in pairs) if plain else urlencode(pairs)
    return f"{API_PREFIX}{quote(path)}" + (f"?{query}" if query else "")


class HttpPool:
    """At most ``size`` keep-alive connections to one socket, shared by any number of threads.

    Every failure to reach Podman (missing socket, refused, timeout, dropped
    connection) becomes PodmanUnavailable; an HTTP 404 becomes NotFound; any
    other non-2xx status becomes PodmanError with Podman's message.
    """

    def __init__(self, path: str, timeout: float, size: int) -> None:
        self.path = path
        self.timeout = timeout
        self._idle: queue.LifoQueue[UnixHTTPConnection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max(1, size))
        self._closed = False
        self.server_version = ""
        """Podman's version as the last reply named it (``Server: Libpod/4.3.1 (linux)``)."""

    def request(
        self, method: str, path: str, params: Params = (), body: bytes | None = None,
        timeout: float | None = None,
    ) -> tuple[int, bytes]:
        """Return (status, body) of one request under the libpod prefix.

        ``timeout`` overrides the pool's per-call timeout for this request (for
        actions that Podman itself lets run longer, such as a stop with a grace period).
        """
        target = _target(path, params)
        if not self._slots.acquire(timeout=self.timeout):
            raise PodmanUnavailable(f"no free connection to {self.path} within {self.timeout}s")
        try:
            return self._request(method, target, body, timeout or self.timeout)
        finally:
            self._slots.release()

    def _request(
        self, method: str, target: str, body: bytes | None, timeout: float
    ) -> tuple[int, bytes]:
        reused = True
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn, reused = UnixHTTPConnection(self.path, self.timeout), False
        for attempt in (0, 1):
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            try:
                conn.request(method, target, body=body, headers={"Accept": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                self.server_version = server_version(resp.getheader("Server"),
                                                     resp.getheader("Libpod-Api-Version"))
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                # A kept-alive connection may have been closed by Podman meanwhile:
                # retry once on a fresh one, for idempotent requests only.
                if attempt == 0 and reused and method == "GET" and not _is_timeout(exc):
                    conn = UnixHTTPConnection(self.path, self.timeout)
                    continue
                raise PodmanUnavailable(f"{method} {target} on {self.path}: {exc!r}") from exc
            if resp.will_close or self._closed:
                conn.close()
            else:
                if timeout != self.timeout and conn.sock is not None:
                    conn.sock.settimeout(self.timeout)
                conn.timeout = self.timeout
                self._idle.put(conn)
            return resp.status, data
        raise AssertionError("unreachable")  # pragma: no cover

    def get_json(self, path: str, params: Params = ()) -> Any:
        """Return the decoded JSON body of a GET; raise as described on the class."""
        return decode(*self.request("GET", path, params), what=path)

    def close(self) -> None:
        """Close every idle connection; connections in use close when returned."""
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def server_version(server: str | None, api_version: str | None) -> str:
    """Return Podman's version from a reply's ``Server: Libpod/4.3.1 (linux)`` header, else
    from ``Libpod-Api-Version`` (Podman 4 and later set it to their own version); "" if
    neither names one."""
    if server and server.startswith("Libpod/"):
        return server[7:].split(" ", 1)[0]
    return api_version or ""


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError | socket.timeout)


def decode(status: int, body: bytes, what: str) -> Any:
    """Return the JSON value of a 2xx reply; raise NotFound/PodmanError for the others."""
    if status == 404:
        raise NotFound(_message(body) or f"{what}: not found")
    if not 200 <= status < 300:
        raise PodmanError(f"{what}: HTTP {status}: {_message(body)}")
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError as exc:
        raise PodmanError(f"{what}: reply is not JSON: {exc}") from exc


def _message(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:200]
    if isinstance(doc, dict):
        return str(doc.get("message") or doc.get("cause") or "")
    return ""


def speaks_rest(path: str, timeout: float) -> bool:
    """Return True when the unix socket at ``path`` answers Podman's ``GET /_ping`` with OK."""
    if not os.path.exists(path):
        return False
    conn = UnixHTTPConnection(path, timeout)
    try:
        conn.request("GET", "/_ping")
        resp = conn.getresponse()
        body = resp.read(64)
        return resp.status == 200 and body.strip() == b"OK"
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
