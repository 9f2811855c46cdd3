"""HTTP limits on uvicorn's httptools protocol: header timeout, head size, per-listener cap.

uvicorn has a keep-alive timeout but no limit on the request head and no timeout for
reading it, and its ``limit_concurrency`` counts every open connection of the whole
server. :class:`LimitedHttpToolsProtocol` is uvicorn's own httptools protocol with
three checks added at the points where uvicorn hands over (connection made, data
received, head complete); parsing and responses stay uvicorn's:

- a request head (request line and headers) must arrive within ``header_timeout``
  (5 s) from the connection or from its first byte, else ``408`` and close;
- a request head past ``max_head_bytes`` (64 KiB) is refused with ``431`` and close,
  before the parser buffers more;
- each listener holds at most ``max_connections`` (1,024) connections; a new one
  past that closes the oldest connection of that listener that is not being
  answered (still sending its head, or idle between keep-alive requests), so
  half-open sockets on one listener neither refuse a complete request nor touch
  another listener (the admin listener keeps answering).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

BACKLOG = 1024
MAX_CONNECTIONS = 1024
"""Open connections per listener (idle and half-open ones included)."""
HEADER_TIMEOUT = 5.0
"""Seconds a client has to send a whole request head."""
MAX_HEAD_BYTES = 64 * 1024
"""Largest request line + headers accepted (nginx's 4 x 8k buffers would be 32 KiB, Go's
``DefaultMaxHeaderBytes`` is 1 MiB)."""
KEEP_ALIVE_TIMEOUT = 30
"""Seconds an idle keep-alive connection is kept (longer than most scrape intervals)."""
FD_RESERVE = 64
"""File descriptors kept free for Podman connections, logs and the process itself."""


@dataclass(frozen=True)
class HttpLimits:
    """The limits every listener enforces."""

    header_timeout: float = HEADER_TIMEOUT
    max_head_bytes: int = MAX_HEAD_BYTES
    max_connections: int = MAX_CONNECTIONS
    keep_alive_timeout: int = KEEP_ALIVE_TIMEOUT


DEFAULT_LIMITS = HttpLimits()
"""The limits a listener is served with unless told otherwise."""


@dataclass
class ListenerStats:
    """What the limits did, summed over every listener (for tests and logs)."""

    timed_out: int = 0
    too_large: int = 0
    evicted: int = 0
    refused: int = 0
    open: dict[int, dict[LimitedHttpToolsProtocol, None]] = field(default_factory=dict)
    """Open connections per listening port, oldest first."""


_TIMEOUT_408 = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"content-length: 16\r\nconnection: close\r\n\r\nRequest Timeout\n")
_TOO_LARGE_431 = (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                  b"content-type: text/plain; charset=utf-8\r\ncontent-length: 32\r\n"
                  b"connection: close\r\n\r\nRequest Header Fields Too Large\n")
_FULL_503 = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
             b"content-length: 20\r\nretry-after: 1\r\nconnection: close\r\n\r\n"
             b"Service Unavailable\n")


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head timeout, a head size cap and a
    per-listener connection cap. Use :func:`protocol_class` to bind the limits."""

    limits: ClassVar[HttpLimits] = DEFAULT_LIMITS
    stats: ClassVar[ListenerStats]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._head_timer: asyncio.TimerHandle | None = None
        self._reading_head = True
        self._head_bytes = 0
        self._port = 0
        self._done = False  # refused or timed out: ignore whatever still arrives

    # Connection lifetime: registration per listener, eviction, the first head timer.

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._port = (self.server[1] or 0) if self.server else 0
        listener = self.stats.open.setdefault(self._port, {})
        if len(listener) >= self.limits.max_connections and not self._evict_one(listener):
            self.stats.refused += 1
            self._close_with(_FULL_503)
            return
        listener[self] = None
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stats.open.get(self._port, {}).pop(self, None)
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _idle(self) -> bool:
        """Return whether no request of this connection is being answered."""
        return self.cycle is None or self.cycle.response_complete

    def _evict_one(self, listener: dict[LimitedHttpToolsProtocol, None]) -> bool:
        """Close the oldest connection of the listener that is not being answered."""
        victim = next((conn for conn in listener if conn._idle()), None)
        if victim is None:
            return False
        del listener[victim]
        victim._done = True
        victim._cancel_head_timer()
        victim.transport.close()
        self.stats.evicted += 1
        return True

    # The request head: its size and its deadline.

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._reading_head and self._head_bytes > self.limits.max_head_bytes:
            self._refuse_large_head()

    def on_message_begin(self) -> None:
        if not self._reading_head:
            self._reading_head = True
            self._head_bytes = 0
        self._arm_head_timer()
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        if not self._done:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._done:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._done:
            return
        size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
        if size > self.limits.max_head_bytes:
            self._refuse_large_head()
            return
        self._reading_head = False
        self._head_bytes = 0
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._done:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._done:
            super().on_message_complete()

    def _refuse_large_head(self) -> None:
        self.stats.too_large += 1
        self._close_with(_TOO_LARGE_431)

    def _arm_head_timer(self) -> None:
        if self._head_timer is None and not self._done:
            self._head_timer = self.loop.call_later(self.limits.header_timeout,
                                                    self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._reading_head and not self._done:
            self.stats.timed_out += 1
            self._close_with(_TIMEOUT_408)

    def _close_with(self, response: bytes) -> None:
        """Answer ``response`` (when the transport still takes it) and close."""
        self._done = True
        self._cancel_head_timer()
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()


def protocol_class(limits: HttpLimits) -> type[LimitedHttpToolsProtocol]:
    """Return a protocol class bound to ``limits`` and to its own ListenerStats."""
    return type("BoundLimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,),
                {"limits": limits, "stats": ListenerStats()})
