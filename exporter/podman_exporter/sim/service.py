"""The simulated Podman varlink service: a ``varlink.ThreadingServer`` with faults.

Transport faults (latency, hang, errors, dropped replies) are applied here, per
call of an ``io.projectatomic.podman`` method; the control interface and
``org.varlink.service`` are never faulted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import socket
import stat
import threading
from typing import Any

import varlink

from podman_exporter import __version__
from podman_exporter.podman.interface import ERROR_PREFIX, strict_interface
from podman_exporter.sim.context import SimContext
from podman_exporter.sim.control import ControlAPI, control_interface
from podman_exporter.sim.faults import FaultState
from podman_exporter.sim.fleet import Fleet
from podman_exporter.sim.options import SimOptions
from podman_exporter.sim.podman_api import PodmanAPI
from podman_exporter.sim.rest import RestServer, start_rest

log = logging.getLogger(__name__)


class _Server(varlink.ThreadingServer):  # type: ignore[misc]
    """ThreadingServer with a configurable listen backlog (the stock one is 5).

    Tracks open connections so that stopping closes them too.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: str, ctx: SimContext, service: Any, backlog: int) -> None:
        self.request_queue_size = backlog
        self.ctx = ctx
        self.service = service
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket, active: bool) -> None:
        """Record an open (or closed) connection."""
        with self._conns_lock:
            (self._conns.add if active else self._conns.discard)(conn)

    def close_connections(self) -> None:
        """Shut every open connection down."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(varlink.RequestHandler):  # type: ignore[misc]
    """Reads NUL-terminated requests in blocks (the stock handler reads byte by byte)."""

    server: _Server

    def handle(self) -> None:
        conn: socket.socket = self.request
        self.server.track(conn, True)
        buf = b""
        try:
            while not self.server.ctx.stop.is_set():
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
                while b"\0" in buf:
                    message, buf = buf.split(b"\0", 1)
                    if not self._serve(conn, message):
                        return
        except OSError:
            return
        finally:
            self.server.track(conn, False)

    def _serve(self, conn: socket.socket, message: bytes) -> bool:
        """Answer one request; return False to close the connection."""
        ctx = self.server.ctx
        try:
            method = str(json.loads(message).get("method", ""))
        except (ValueError, AttributeError):
            return False
        ctx.count(method)
        action = None
        if method.startswith(ERROR_PREFIX):
            delay = ctx.faults.delay()
            if delay > 0 and ctx.stop.wait(delay):
                return False
            action = ctx.faults.decide(method[len(ERROR_PREFIX) :])
            if action == "hang":
                self._hang(conn)
                return False
            if action == "error":
                kind = ctx.faults.current.error_kind
                error = {"error": ERROR_PREFIX + kind, "parameters": {"reason": "simulated fault"}}
                conn.sendall(json.dumps(error).encode() + b"\0")
                return True
        try:
            for reply in self.server.service.handle(message, _server=self.server, _request=conn):
                data = reply + b"\0"
                if action == "drop":
                    conn.sendall(data[: max(1, len(data) // 2)])
                    return False
                conn.sendall(data)
        except OSError:
            return False
        except Exception:
            # As the stock server: an exception in a method drops the connection.
            log.exception("simulator: %s failed", method)
            return False
        return True

    def _hang(self, conn: socket.socket) -> None:
        """Never answer: read and ignore input until the client leaves or the service stops."""
        stop = self.server.ctx.stop
        while not stop.wait(0.05):
            readable, _, _ = select.select([conn], [], [], 0)
            if readable and not conn.recv(65536):
                return


class SimulatorHandle:
    """A simulator serving in a daemon thread.

    ``fleet`` and ``faults`` allow direct control; ``stop()`` closes the listener
    and every connection and removes the socket file.
    """

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self._ctx: SimContext = server.ctx
        self.fleet: Fleet = server.ctx.fleet
        self.faults: FaultState = server.ctx.faults
        self.address = _address_of(server)
        self._rest: list[RestServer] = []

    def serve_rest(self, path: str) -> RestServer:
        """Serve the fleet's REST event stream (sim/rest.py) on a unix socket at ``path``
        too; return its server (``url``, ``stop()``), which ``stop()`` stops as well."""
        server = start_rest(path, self._ctx)
        self._rest.append(server)
        return server

    def calls(self) -> dict[str, int]:
        """Return the calls served so far by full method name."""
        return self._ctx.calls()

    def stop(self) -> None:
        """Stop serving; idempotent."""
        if self._ctx.stop.is_set():
            return
        self._ctx.stop.set()
        for rest in self._rest:
            rest.stop()
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _address_of(server: _Server) -> str:
    bound = server.server_address
    if isinstance(bound, tuple):
        host = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        return f"tcp:{host}:{bound[1]}"
    return f"unix:{bound}"


def remove_stale_socket(address: str) -> None:
    """Remove a socket file left behind at a ``unix:`` address; refuse other files."""
    if not address.startswith("unix:") or address.startswith("unix:@"):
        return
    path = address[5:].split(";", 1)[0]
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(f"{path} exists and is not a socket")
    os.unlink(path)


def build_service(ctx: SimContext) -> Any:
    """Return a ``varlink.Service`` serving the Podman and control interfaces over ``ctx``."""
    service = varlink.Service(
        vendor="podman-exporter",
        product="Simulated Podman",
        version=__version__,
        url="https://github.com/containers/podman",
    )
    for interface, handler in (
        (strict_interface(), PodmanAPI(ctx)),
        (control_interface(), ControlAPI(ctx)),
    ):
        service.interfaces[interface.name] = interface
        service.interfaces_handlers[interface.name] = handler
    return service


def start_simulator(address: str, options: SimOptions | None = None) -> SimulatorHandle:
    """Serve a simulated Podman at ``address`` (``unix:/path`` or ``tcp:host:port``).

    Returns once the socket listens; the service runs in a daemon thread.
    """
    options = options or SimOptions()
    ctx = SimContext(Fleet(options), FaultState(options.faults, options.seed))
    remove_stale_socket(address)
    server = _Server(address, ctx, build_service(ctx), options.backlog)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="podman-sim", daemon=True
    )
    thread.start()
    return SimulatorHandle(server, thread)
