"""Metric families -> the bytes served on /metrics, rendered once per collection.

A scrape only picks one of four ready bodies (classic text or OpenMetrics, plain
or gzip), so its cost does not grow with the number of containers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gzip
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from prometheus_client import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector

from podman_exporter.exposition.negotiate import wants_openmetrics
from podman_exporter.metrics import build_families
from podman_exporter.metrics.options import MetricOptions
from podman_exporter.snapshot.snapshot import Snapshot

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
GZIP_LEVEL = 6


def _malloc_trim() -> Callable[[int], int] | None:
    """Return glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    return trim


_TRIM = _malloc_trim()


class _Families:
    """The minimal registry the prometheus_client generators accept."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


@dataclass(frozen=True, slots=True)
class Body:
    """One rendered format: its content type and its plain and gzip bytes."""

    content_type: str
    plain: bytes
    gzipped: bytes

    @classmethod
    def of(cls, content_type: str, data: bytes) -> Body:
        """Return the body with its gzip form computed."""
        return cls(content_type, data, gzip.compress(data, GZIP_LEVEL, mtime=0))


@dataclass(frozen=True, slots=True)
class Exposition:
    """Everything /metrics can answer with, and the Snapshot it came from."""

    snapshot: Snapshot
    text: Body
    openmetrics: Body

    def negotiate(self, accept: str) -> Body:
        """Return the body for an Accept header: OpenMetrics when asked for, else text
        (also when the header is malformed: negotiation never raises)."""
        return self.openmetrics if wants_openmetrics(accept) else self.text


def render(
    snapshot: Snapshot, options: MetricOptions, extra: Sequence[Collector] = ()
) -> Exposition:
    """Return the Exposition of a Snapshot plus the families of the ``extra`` collectors
    (process and platform metrics, collected here, in the collection thread)."""
    families = list(build_families(snapshot, options))
    for collector in extra:
        families.extend(collector.collect())
    registry = _Families(families)
    text = generate_latest(registry)
    openmetrics = generate_openmetrics(registry)  # type: ignore[no-untyped-call]
    return Exposition(
        snapshot=snapshot,
        text=Body.of(TEXT_CONTENT_TYPE, text),
        openmetrics=Body.of(OPENMETRICS_CONTENT_TYPE, openmetrics),
    )


class ExpositionCache:
    """Holds the latest Exposition; written by the collection thread, read per request."""

    def __init__(self, options: MetricOptions, extra: Sequence[Collector] = ()) -> None:
        self._options = options
        self._extra = tuple(extra)
        self._current: Exposition | None = None
        self._ready = threading.Event()
        self.first_success: float | None = None

    @property
    def current(self) -> Exposition | None:
        """Return the latest Exposition, None before the first collection ended."""
        return self._current

    def publish(self, snapshot: Snapshot) -> None:
        """Render a Snapshot and make it the one served."""
        self._current = render(snapshot, self._options, self._extra)
        if _TRIM is not None:
            # A collection frees megabytes of replies, records and sample lines; without
            # this glibc keeps them in the heap (about 10 MB at 1,000 containers).
            _TRIM(0)
        if snapshot.up and self.first_success is None:
            self.first_success = snapshot.taken_at
        self._ready.set()

    def wait(self, timeout: float) -> bool:
        """Return True once a first Exposition exists (for tests and start-up)."""
        return self._ready.wait(timeout)
