"""Pooled, time-bounded connections to a varlink service.

One varlink connection carries one call at a time, so the pool keeps up to
``connections`` of them. Each call runs under a socket timeout; a connection that
timed out, broke or answered garbage is closed and a fresh one opened next time.
"""

from __future__ import annotations

import contextlib
import shlex
import socket
import threading
from collections.abc import Iterator
from typing import Any

import varlink

from podman_exporter.podman.backend import (
    NotFound,
    PodmanError,
    PodmanUnavailable,
    Unsupported,
)
from podman_exporter.podman.interface import (
    ERROR_PREFIX,
    INTERFACE_NAME,
    METHOD_NOT_FOUND,
    lenient_interface,
)

_READS = ("Ping", "List", "Get", "Info")
"""Prefixes of the methods that change nothing, safe to send twice."""

_NOT_FOUND = {ERROR_PREFIX + "ContainerNotFound", ERROR_PREFIX + "ImageNotFound"}


def _connector(address: str, timeout: float) -> Any:
    """Return a function opening a connected socket to a ``unix:`` or ``tcp:`` address."""
    if address.startswith("unix:"):
        path = address[5:].split(";", 1)[0]
        if path.startswith("@"):
            path = "\0" + path[1:]

        def open_unix() -> socket.socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(path)
            except OSError:
                sock.close()
                raise
            return sock

        return open_unix
    if address.startswith("tcp:"):
        host, sep, port = address[4:].rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"invalid varlink address {address!r} (want tcp:host:port)")
        host = host.strip("[]")
        return lambda: socket.create_connection((host, int(port)), timeout=timeout)
    raise ValueError(f"invalid varlink address {address!r} (want unix:/path or tcp:host:port)")


class VarlinkPool:
    """Calls ``io.projectatomic.podman`` methods over a pool of connections."""

    def __init__(self, address: str | None, *, bridge: str | None = None,
                 timeout: float = 5.0, connections: int = 8) -> None:
        if bridge:
            self._client = varlink.Client.new_with_bridge(shlex.split(bridge))
            self._open_socket = self._client.open_connection
            self.target = f"bridge: {bridge}"
        elif address:
            self._client = varlink.Client()
            self._open_socket = _connector(address, timeout)
            self.target = address
        else:
            raise ValueError("a varlink address or bridge command is required")
        self._client.add_interface(lenient_interface())
        self._timeout = timeout
        self._slots = threading.BoundedSemaphore(connections)
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _connection(self, fresh: bool = False) -> Iterator[tuple[Any, bool]]:
        """Yield a connection and whether it was reused from the pool."""
        if not self._slots.acquire(timeout=self._timeout):
            raise PodmanUnavailable("all varlink connections busy")
        try:
            with self._lock:
                handle = self._idle.pop() if self._idle and not fresh else None
            reused = handle is not None
            if handle is None:
                handle = self._open()
            healthy = False
            try:
                yield handle, reused
                healthy = True
            except varlink.VarlinkError:
                healthy = True  # the service answered: the connection is fine
                raise
            finally:
                if healthy:
                    with self._lock:
                        self._idle.append(handle)
                else:
                    handle.close()
        finally:
            self._slots.release()

    def _open(self) -> Any:
        try:
            sock = self._open_socket()
            sock.settimeout(self._timeout)
        except OSError as exc:
            raise PodmanUnavailable(f"cannot connect to {self.target}: {exc}") from exc
        return self._client.open(INTERFACE_NAME, connection=sock)

    def call(self, method: str, *, grace: float = 0.0, **params: Any) -> dict[str, Any]:
        """Return the reply parameters of one call; map failures to backend errors.

        ``grace`` extends the timeout of this call (a stop waits for the container).
        A read-only call that fails on a pooled connection (other than by timing out)
        is retried once on a new one: the service may have restarted since.
        """
        reused = False
        try:
            try:
                with self._connection() as (handle, reused):
                    if grace:
                        handle._connection.settimeout(self._timeout + grace)
                    try:
                        reply = getattr(handle, method)(**params)
                    finally:  # the connection goes back to the pool with its usual timeout
                        if grace:
                            handle._connection.settimeout(self._timeout)
            except (OSError, ValueError, varlink.ConnectionError) as exc:
                if not reused or isinstance(exc, TimeoutError) or not method.startswith(_READS):
                    raise
                with self._connection(fresh=True) as (handle, _):
                    reply = getattr(handle, method)(**params)
        except varlink.VarlinkError as exc:
            name, parameters = exc.error(), exc.parameters() or {}
            detail = parameters.get("reason") or parameters.get("name") or ""
            if name in _NOT_FOUND:
                raise NotFound(f"{name.rsplit('.', 1)[-1]}: {detail}") from exc
            if name == METHOD_NOT_FOUND:
                raise Unsupported(f"{method}: {name}") from exc
            raise PodmanError(f"{method}: {name} {detail}".strip()) from exc
        except (OSError, ValueError, varlink.ConnectionError) as exc:
            # timeouts, resets, broken pipes, truncated or non-JSON replies
            reason = str(exc) or type(exc).__name__
            raise PodmanUnavailable(f"{method} on {self.target}: {reason}") from exc
        return reply if isinstance(reply, dict) else {}

    def close(self) -> None:
        """Close the idle connections (and end a bridge command)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for handle in idle:
            handle.close()
        self._client.cleanup()
