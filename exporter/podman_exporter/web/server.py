"""Serving the ASGI app with uvicorn (httptools parser, uvloop) on the listen addresses,
with the limits of http_limits.py."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import signal
import socket
import ssl
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import ClassVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from podman_exporter.web.asgi import ASGIApp
from podman_exporter.web.http_limits import (
    BACKLOG,
    DEFAULT_LIMITS,
    FD_RESERVE,
    MAX_CONNECTIONS,
    HttpLimits,
    protocol_class,
)


def uvicorn_config(app: ASGIApp, limits: HttpLimits = DEFAULT_LIMITS,
                   ssl_context: ssl.SSLContext | None = None) -> uvicorn.Config:
    """Return the loaded uvicorn Config every listener is served with."""
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http=dated(protocol_class(limits)),
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        # Forwarding headers are never trusted: a client must not pick the address the
        # admin limiter and audit log see (uvicorn trusts them from loopback by default).
        proxy_headers=False,
        timeout_keep_alive=limits.keep_alive_timeout,
        # Not uvicorn's limit_concurrency: it counts every open connection of the whole
        # server, so half-open sockets on one listener made every listener answer 503.
        # The per-listener cap above replaces it; requests in flight are capped by the
        # app (--web.max-requests).
        limit_concurrency=None,
        backlog=BACKLOG,
    )
    config.load()
    if ssl_context is not None:
        config.ssl = ssl_context
    return config


def raise_nofile_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one (as Go programs do at start) and
    return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def connection_cap(listeners: int, nofile: int) -> int:
    """Return the per-listener connection cap: MAX_CONNECTIONS, lowered so that every
    listener at its cap still leaves FD_RESERVE descriptors free."""
    return max(16, min(MAX_CONNECTIONS, (nofile - FD_RESERVE) // max(1, listeners)))


def bind(addresses: tuple[tuple[str, int], ...]) -> list[socket.socket]:
    """Return listening sockets for (host, port) pairs; host "" means every address
    (IPv6 and IPv4 where the host has IPv6). Raises OSError naming the address."""
    sockets: list[socket.socket] = []
    try:
        for host, port in addresses:
            sockets.append(_listen(host, port))
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _listen(host: str, port: int) -> socket.socket:
    if host == "" and socket.has_ipv6:
        try:
            return _open(socket.AF_INET6, ("::", port), dual_stack=True)
        except OSError:
            pass  # IPv6 disabled on this host
    if host == "":
        return _open(socket.AF_INET, ("0.0.0.0", port))  # noqa: S104 (":port" means all)
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve listen address {host}:{port}: {exc}") from exc
    return _open(family, sockaddr)


def _open(family: int, sockaddr: tuple[object, ...], dual_stack: bool = False) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if dual_stack:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(sockaddr)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {sockaddr[0]}:{sockaddr[1]}: {exc.strerror}") from exc
    return sock


class FreshDate:
    """Keeps the Date header of every response current: refreshed when data arrives in a
    new second (uvicorn itself refreshes it from a loop that wakes ten times a second)."""

    def __init__(self) -> None:
        self._second = -1

    def refresh(self, state: ServerState, config: uvicorn.Config) -> None:
        """Set the server's default headers (Date first) unless set in this second."""
        now = time.time()
        if int(now) != self._second:
            self._second = int(now)
            date = [(b"date", formatdate(now, usegmt=True).encode())] \
                if config.date_header else []
            state.default_headers = date + config.encoded_headers


def dated(protocol: type[HttpToolsProtocol]) -> type[HttpToolsProtocol]:
    """Return ``protocol`` refreshing the Date header (FreshDate) before it reads data."""

    class Dated(protocol):  # type: ignore[valid-type, misc]
        date: ClassVar[FreshDate] = FreshDate()

        def data_received(self, data: bytes) -> None:
            self.date.refresh(self.server_state, self.config)
            super().data_received(data)

    Dated.__name__ = Dated.__qualname__ = f"Dated{protocol.__name__}"
    return Dated


class QuietServer(uvicorn.Server):
    """uvicorn's Server without its 0.1 s tick: idle, it does not wake at all.

    uvicorn's main loop sleeps 0.1 s at a time to refresh the Date header once a second
    and to notice ``should_exit``; each wake-up cost this process 0.15-0.7 ms of CPU,
    most of what an idle exporter spent. Here the Date header is refreshed as requests
    arrive (``dated``, which ``uvicorn_config`` applies), and the loop sleeps until
    ``should_exit`` is set: by uvicorn's signal handler, or by anyone, from any thread.
    With ``limit_max_requests`` or ``callback_notify`` (which need the tick) it runs
    uvicorn's loop. Serving and shutdown are uvicorn's own.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        self._exit = False
        self._wake: Callable[[], None] | None = None
        super().__init__(config)

    @property
    def should_exit(self) -> bool:
        """Return whether the server was asked to exit."""
        return self._exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._exit = value
        wake = self._wake
        if value and wake is not None:
            wake()

    async def main_loop(self) -> None:
        """Return once ``should_exit`` is set."""
        if self.config.limit_max_requests is not None or self.config.callback_notify:
            await super().main_loop()
            return
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(woken.set)

        self._wake = wake
        try:
            while not await self.on_tick(0):  # 0: sets the headers, then asks should_exit
                await woken.wait()
                woken.clear()
        finally:
            self._wake = None


class _Stopped(Exception):
    """SIGINT or SIGTERM arrived after uvicorn shut down."""


def _stopped(signum: int, frame: object) -> None:
    raise _Stopped(signum)


def serve(app: ASGIApp, sockets: list[socket.socket], ssl_context: ssl.SSLContext | None,
          limits: HttpLimits | None = None,
          on_start: Callable[[asyncio.AbstractEventLoop], None] | None = None) -> None:
    """Serve until SIGINT or SIGTERM, then return (so the caller can clean up).

    ``on_start`` is called with the serving event loop, on it, before serving begins.
    uvicorn shuts down gracefully on those signals and then raises them again for the
    handler that was installed before it; ours turns that into a normal return.
    """
    if limits is None:
        limits = HttpLimits(max_connections=connection_cap(len(sockets), raise_nofile_limit()))
    config = uvicorn_config(app, limits, ssl_context)
    server = QuietServer(config)

    async def main() -> None:
        if on_start is not None:
            on_start(asyncio.get_running_loop())
        await server.serve(sockets=sockets)

    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # What uvicorn.Server.run does, with the hook above.
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(main())
    except _Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
