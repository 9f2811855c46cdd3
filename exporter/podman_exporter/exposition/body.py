"""What /metrics answers with: one body per format, each made when first needed.

A body is kept as the pieces its bytes are joined from (each endpoint's sample lines,
under each family's header), its plain bytes joined from them at most once and its
gzip form compressed from those at most once: by the cache right after it arranged
the pieces when that format (or its gzip form) was asked for lately, else by the first
request that asks for it (outside the event loop: web/app.py).
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from podman_exporter.exposition.negotiate import wants_openmetrics
from podman_exporter.snapshot.snapshot import Snapshot

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
GZIP_LEVEL = 1
"""zlib's fastest level (nginx's default): at 1,000 containers 2.5x less CPU than level 6
for a body about 6 % larger (docs/performance.md)."""


class Body:
    """One format: its content type, its plain bytes (joined from their pieces once,
    when first needed) and their gzip form (compressed once, when first needed)."""

    __slots__ = ("_gzipped", "_lock", "_pieces", "_plain", "asked", "content_type",
                 "gzip_asked")

    def __init__(self, content_type: str, pieces: Sequence[bytes]) -> None:
        self.content_type = content_type
        self._pieces: Sequence[bytes] = pieces
        self._plain: bytes | None = None
        self._gzipped: bytes | None = None
        self._lock = threading.Lock()
        self.asked = False
        """Whether a response was made of it (``response``), plain or gzip."""
        self.gzip_asked = False
        """Whether a response was made of its gzip form."""

    def join(self) -> bytes:
        """Return the plain bytes, joining them if no one has yet."""
        if self._plain is None:
            with self._lock:
                if self._plain is None:
                    self._plain = b"".join(self._pieces)
                    self._pieces = ()
        return self._plain

    def compress(self) -> bytes:
        """Return the gzip form, compressing it if no one has yet."""
        if self._gzipped is None:
            plain = self.join()
            with self._lock:
                if self._gzipped is None:
                    self._gzipped = gzip.compress(plain, GZIP_LEVEL, mtime=0)
        return self._gzipped

    @property
    def joined(self) -> bool:
        """Return whether the plain bytes are ready."""
        return self._plain is not None

    @property
    def compressed(self) -> bool:
        """Return whether the gzip form is ready."""
        return self._gzipped is not None

    def ready(self, gzipped: bool) -> bool:
        """Return whether ``response(gzipped)`` is ready, without joining or compressing."""
        return self.compressed if gzipped else self.joined

    def response(self, gzipped: bool) -> bytes:
        """Return the bytes of a response, plain or gzip (made now if they are not yet),
        and remember that they were asked for."""
        self.asked = True
        if gzipped:
            self.gzip_asked = True
            return self.compress()
        return self.join()


@dataclass(frozen=True, slots=True)
class Exposition:
    """Everything /metrics can answer with, and the snapshots (by endpoint) it came from."""

    snapshots: Mapping[str, Snapshot]
    text: Body
    openmetrics: Body

    def negotiate(self, accept: str) -> Body:
        """Return the body for an Accept header: OpenMetrics when asked for, else text
        (also when the header is malformed: negotiation never raises)."""
        return self.openmetrics if wants_openmetrics(accept) else self.text
