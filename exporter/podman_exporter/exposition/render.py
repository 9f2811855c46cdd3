"""Metric families -> the bytes served on /metrics, rendered once per collection.

A scrape only picks one of four bodies (classic text or OpenMetrics, plain or gzip),
so its cost does not grow with the number of containers. Both plain bodies are
rendered at publish (their sample lines are formatted once for both: lines.py). A
gzip form is compressed at most once per collection: at publish when it was asked
for in one of the last ``GZIP_MEMORY`` collections (so a scrape finds it ready), else
on the first request that asks for it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gzip
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from prometheus_client import Metric
from prometheus_client.registry import Collector

from podman_exporter.exposition.lines import EOF, render_both
from podman_exporter.exposition.negotiate import wants_openmetrics
from podman_exporter.metrics import exporter_families, podman_families
from podman_exporter.metrics.options import MetricOptions
from podman_exporter.snapshot.snapshot import Snapshot

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
GZIP_LEVEL = 1
"""zlib's fastest level (nginx's default): at 1,000 containers 2.5x less CPU than level 6
for a body about 6 % larger (docs/performance.md)."""
GZIP_MEMORY = 8
"""Collections a format's gzip form stays compressed at publish after it was last asked for."""
_EOF = EOF.encode()
log = logging.getLogger(__name__)


def _malloc_trim() -> Callable[[int], int] | None:
    """Return glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    return trim


_TRIM = _malloc_trim()


class Body:
    """One rendered format: its content type, its plain bytes and their gzip form
    (compressed once, when first needed)."""

    __slots__ = ("_gzipped", "_lock", "asked", "content_type", "plain")

    def __init__(self, content_type: str, plain: bytes) -> None:
        self.content_type = content_type
        self.plain = plain
        self._gzipped: bytes | None = None
        self._lock = threading.Lock()
        self.asked = False
        """Whether the gzip form was asked for (through ``gzipped``)."""

    @property
    def compressed(self) -> bool:
        """Return whether the gzip form is ready."""
        return self._gzipped is not None

    def compress(self) -> bytes:
        """Return the gzip form, compressing it if no one has yet."""
        if self._gzipped is None:
            with self._lock:
                if self._gzipped is None:
                    self._gzipped = gzip.compress(self.plain, GZIP_LEVEL, mtime=0)
        return self._gzipped

    @property
    def gzipped(self) -> bytes:
        """Return the gzip form (compressed now if it is not yet) for a response."""
        self.asked = True
        return self.compress()


@dataclass(frozen=True, slots=True)
class Exposition:
    """Everything /metrics can answer with, and the Snapshot it came from."""

    snapshot: Snapshot
    text: Body
    openmetrics: Body
    podman_spans: tuple[int, int, int, int] = (0, 0, 0, 0)
    """Where Podman's series lie in ``text.plain`` (start, end) and in
    ``openmetrics.plain`` (start, end): reused when the next rendering fails."""

    def negotiate(self, accept: str) -> Body:
        """Return the body for an Accept header: OpenMetrics when asked for, else text
        (also when the header is malformed: negotiation never raises)."""
        return self.openmetrics if wants_openmetrics(accept) else self.text

    def podman_part(self) -> _Part:
        """Return the bytes of Podman's series of this exposition."""
        a, b, c, d = self.podman_spans
        return _Part(self.text.plain[a:b], self.openmetrics.plain[c:d])


@dataclass(frozen=True, slots=True)
class _Part:
    """Consecutive families rendered in both formats (OpenMetrics without ``# EOF``)."""

    text: bytes = b""
    openmetrics: bytes = b""


def _render_part(families: Sequence[Metric]) -> _Part:
    return _Part(*render_both(families))


def _assemble(snapshot: Snapshot, own: _Part, podman: _Part, extra: _Part) -> Exposition:
    """Return the Exposition of the exporter's, Podman's and the extra families, in order
    (rendering families apart and joining the bytes equals rendering them together)."""
    spans = (len(own.text), len(own.text) + len(podman.text),
             len(own.openmetrics), len(own.openmetrics) + len(podman.openmetrics))
    return Exposition(
        snapshot=snapshot,
        text=Body(TEXT_CONTENT_TYPE, own.text + podman.text + extra.text),
        openmetrics=Body(OPENMETRICS_CONTENT_TYPE,
                         own.openmetrics + podman.openmetrics + extra.openmetrics + _EOF),
        podman_spans=spans,
    )


def _extra_families(extra: Sequence[Collector]) -> list[Metric]:
    families: list[Metric] = []
    for collector in extra:
        families.extend(collector.collect())
    return families


def render(
    snapshot: Snapshot, options: MetricOptions, extra: Sequence[Collector] = ()
) -> Exposition:
    """Return the Exposition of a Snapshot plus the families of the ``extra`` collectors
    (process and platform metrics, collected here, in the collection thread)."""
    return _assemble(snapshot, _render_part(exporter_families(snapshot, options)),
                     _render_part(podman_families(snapshot, options)),
                     _render_part(_extra_families(extra)))


class ExpositionCache:
    """Holds the latest Exposition; written by the collection thread, read per request.

    When Podman's series of a collection cannot be rendered (a bug meeting unexpected
    data), that failure is counted in ``podman_exporter_publish_failures_total`` (logged,
    with the traceback the first time), the exporter's own series are still rendered
    afresh, and the Podman series last rendered are served again until they are older
    than ``max_age`` (then they are left out);
    ``podman_exporter_last_publish_success_timestamp_seconds`` says when the last
    collection rendered without error ended. Nothing is frozen silently.
    """

    def __init__(self, options: MetricOptions, extra: Sequence[Collector] = (),
                 max_age: float = math.inf,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._options = options
        self._extra = tuple(extra)
        self._max_age = max_age
        self._monotonic = monotonic
        self._current: Exposition | None = None
        self._ready = threading.Event()
        self.first_success: float | None = None
        self.publish_failures = 0
        self._good: tuple[float, float] | None = None
        """(monotonic time, taken_at) of the last collection rendered without error."""
        self._unzipped = {"text": GZIP_MEMORY, "openmetrics": GZIP_MEMORY}
        """Per format: collections since its gzip form was last asked for."""

    @property
    def current(self) -> Exposition | None:
        """Return the latest Exposition, None before the first collection ended."""
        return self._current

    def publish(self, snapshot: Snapshot) -> None:
        """Render a Snapshot and make it the one served (see the class for failures)."""
        now = self._monotonic()
        try:
            podman = _render_part(podman_families(snapshot, self._options))
            self._good = (now, snapshot.taken_at)
        except Exception as exc:  # a rendering bug must not freeze /metrics silently
            podman = self._reuse(now, snapshot, exc)
        own = exporter_families(replace(snapshot, publish_failures=self.publish_failures,
                                        last_publish=self._good and self._good[1]),
                                self._options)
        previous = self._current
        current = _assemble(snapshot, _render_part(own), podman,
                            _render_part(_extra_families(self._extra)))
        self._compress_asked(previous, current)
        self._current = current
        if _TRIM is not None:
            # A collection frees megabytes of replies, records and sample lines; without
            # this glibc keeps them in the heap (about 10 MB at 1,000 containers).
            _TRIM(0)
        if snapshot.up and self.first_success is None:
            self.first_success = snapshot.taken_at
        self._ready.set()

    def _compress_asked(self, previous: Exposition | None, current: Exposition) -> None:
        """Compress the gzip forms asked for lately, so that scrapes find them ready."""
        for fmt in self._unzipped:
            asked = previous is not None and getattr(previous, fmt).asked
            self._unzipped[fmt] = 0 if asked else self._unzipped[fmt] + 1
            if self._unzipped[fmt] < GZIP_MEMORY:
                getattr(current, fmt).compress()

    def _reuse(self, now: float, snapshot: Snapshot, exc: Exception) -> _Part:
        """Count a failed rendering; return the last Podman series while fresh enough."""
        self.publish_failures += 1
        previous = self._current
        fresh = self._good is not None and 0 <= now - self._good[0] <= self._max_age
        log.error("rendering Podman's series failed (%d failures so far); %s: %r",
                  self.publish_failures,
                  "serving the previous ones" if fresh and previous else "leaving them out",
                  exc, exc_info=self.publish_failures == 1)
        return previous.podman_part() if fresh and previous is not None else _Part()

    def wait(self, timeout: float) -> bool:
        """Return True once a first Exposition exists (for tests and start-up)."""
        return self._ready.wait(timeout)
