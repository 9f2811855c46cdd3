"""Serving the ASGI app with uvicorn (httptools parser, uvloop) on the listen addresses."""

from __future__ import annotations

import signal
import socket
import ssl

import uvicorn

from podman_exporter.web.asgi import ASGIApp

BACKLOG = 1024
MAX_CONNECTIONS = 1024
"""Open connections (idle ones included) past which uvicorn answers 503 instead of
taking more: a flood of silent connections cannot exhaust file descriptors."""


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


class _Stopped(Exception):
    """SIGINT or SIGTERM arrived after uvicorn shut down."""


def _stopped(signum: int, frame: object) -> None:
    raise _Stopped(signum)


def serve(app: ASGIApp, sockets: list[socket.socket], ssl_context: ssl.SSLContext | None) -> None:
    """Serve until SIGINT or SIGTERM, then return (so the caller can clean up).

    uvicorn shuts down gracefully on those signals and then raises them again for the
    handler that was installed before it; ours turns that into a normal return.
    """
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_keep_alive=30,
        limit_concurrency=MAX_CONNECTIONS,
        backlog=BACKLOG,
    )
    config.load()
    if ssl_context is not None:
        config.ssl = ssl_context
    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.Server(config).run(sockets=sockets)
    except _Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
