"""The ASGI application: /metrics, the landing page, /healthz and /readyz, and the
router that sends /admin to the admin app on its own listeners (never on the metrics
listeners).

No Podman I/O and no rendering happens here: every answer comes from the
ExpositionCache that the collection loop fills. The one exception is a gzip form not
compressed at publish (not asked for lately): the first request that wants it
compresses it once, in a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from podman_exporter.exposition.body import Exposition
from podman_exporter.exposition.negotiate import accepts_gzip
from podman_exporter.exposition.render import ExpositionCache
from podman_exporter.web.asgi import ASGIApp, Receive, Scope, Send, header, respond
from podman_exporter.web.landing import landing_page

READ_METHODS = ("GET", "HEAD")


@dataclass
class MetricsApp:
    """Serves /metrics, /, /healthz and /readyz (GET and HEAD)."""

    cache: ExpositionCache
    telemetry_path: str = "/metrics"
    max_requests: int = 40
    in_flight: int = 0

    def __post_init__(self) -> None:
        self._table: dict[str, Callable[[Scope, Send, bool], Awaitable[None]]] = {
            self.telemetry_path: self._metrics,
            "/": self._landing,
            "/healthz": self._healthz,
            "/readyz": self._readyz,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan and websockets are not served
        path: str = scope["path"]
        method: str = scope["method"]
        handler = self._table.get(path)
        if handler is None:
            await respond(send, 404, b"404 page not found\n")
            return
        if method not in READ_METHODS:
            await respond(send, 405, b"405 method not allowed\n",
                          headers=((b"allow", b"GET, HEAD"),))
            return
        if self.in_flight >= self.max_requests:
            await respond(send, 503, b"503 too many concurrent requests\n",
                          headers=((b"retry-after", b"1"),))
            return
        self.in_flight += 1
        try:
            await handler(scope, send, method == "HEAD")
        finally:
            self.in_flight -= 1

    async def _current(self) -> Exposition | None:
        """Return the Exposition to answer with: the one the cache serves now, else (none
        in place for the last publication, and no round under way) the one arranged in a
        worker thread (the event loop never waits for a join)."""
        exposition = self.cache.serving
        if exposition is None:
            return await asyncio.to_thread(lambda: self.cache.current)
        return exposition

    async def _metrics(self, scope: Scope, send: Send, head: bool) -> None:
        exposition = await self._current()
        if exposition is None:
            await respond(send, 503, b"503 no collection has finished yet\n",
                          headers=((b"retry-after", b"1"),), head=head)
            return
        body = exposition.negotiate(header(scope, b"accept"))
        gzipped = accepts_gzip(header(scope, b"accept-encoding"))
        data = body.response(gzipped) if body.ready(gzipped) else await asyncio.to_thread(
            body.response, gzipped)
        encoding = ((b"content-encoding", b"gzip"),) if gzipped else ()
        await respond(send, 200, data, body.content_type, head=head,
                      headers=(*encoding, (b"vary", b"Accept-Encoding")))

    async def _landing(self, scope: Scope, send: Send, head: bool) -> None:
        page = landing_page(await self._current(), self.telemetry_path)
        await respond(send, 200, page, "text/html; charset=utf-8", head=head)

    async def _healthz(self, scope: Scope, send: Send, head: bool) -> None:
        await respond(send, 200, b"ok\n", head=head)

    async def _readyz(self, scope: Scope, send: Send, head: bool) -> None:
        if self.cache.first_success is None:
            await respond(send, 503, b"not ready: no collection has reached Podman yet\n",
                          head=head)
        else:
            await respond(send, 200, b"ready\n", head=head)


@dataclass
class Router:
    """Sends /admin paths to the admin app (if enabled) on the admin listeners only, and
    everything else to the metrics app on the other listeners: a listener serves one or
    the other, never both."""

    metrics: ASGIApp
    admin: ASGIApp | None = None
    admin_ports: frozenset[int] = frozenset()
    """Ports of --admin.listen-address; empty: /admin is served nowhere."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        server = scope.get("server") or ("", 0)
        on_admin_listener = server[1] in self.admin_ports
        if path == "/admin" or path.startswith("/admin/"):
            if self.admin is not None and on_admin_listener:
                await self.admin(scope, receive, send)
                return
            await respond(send, 404, b"404 page not found\n")
        elif on_admin_listener:
            await respond(send, 404, b"404 page not found\n")
        else:
            await self.metrics(scope, receive, send)
