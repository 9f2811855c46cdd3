"""Metric families -> the bodies served on /metrics, rendered once per collection.

A scrape only picks one of the bodies (classic text or OpenMetrics, plain or gzip:
body.py), so its cost does not grow with the number of containers. An endpoint's
families are rendered when its collection publishes (their sample lines formatted once
for both formats: lines.py); the bodies are arranged from every endpoint's once per
burst of publications, in a thread of their own, so one endpoint's collection never
waits for the others' bytes. Before an arrangement is put in place, the formats asked
for in one of the last ``ASK_MEMORY`` arrangements are joined (and their gzip forms
compressed when those were asked for), so that a scrape finds them ready; the others
are left to the first request that asks (with many endpoints, most bodies are replaced
before any scrape).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from prometheus_client import Metric
from prometheus_client.registry import Collector

from podman_exporter.exposition.body import (
    OPENMETRICS_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    Body,
    Exposition,
)
from podman_exporter.exposition.lines import EOF, Chunk, arrange_chunks, render_chunks
from podman_exporter.heap import trim
from podman_exporter.metrics import (
    endpoint_families,
    exporter_families,
    podman_families,
    process_families,
)
from podman_exporter.metrics.options import MetricOptions
from podman_exporter.snapshot.snapshot import Snapshot

ASK_MEMORY = 8
"""Arrangements a format (or its gzip form) stays made at after it was last asked for."""
TRIM_EVERY = 1.0
"""Seconds between two returns of freed heap memory to the system (after an
arrangement)."""
_EOF = EOF.encode()
log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Endpoint:
    """What the cache keeps of one endpoint: its last snapshot and rendered families."""

    snapshot: Snapshot
    own: list[Chunk] = field(default_factory=list)
    podman: list[Chunk] = field(default_factory=list)
    good: tuple[float, float] | None = None
    """(monotonic time, taken_at) of its last collection rendered without error."""
    failures: int = 0


def _extra_families(extra: Sequence[Collector]) -> list[Metric]:
    families: list[Metric] = []
    for collector in extra:
        families.extend(collector.collect())
    return families


def _own(snapshot: Snapshot, options: MetricOptions) -> list[Chunk]:
    return render_chunks(endpoint_families(exporter_families(snapshot, options), snapshot))


def _podman(snapshot: Snapshot, options: MetricOptions) -> list[Chunk]:
    return render_chunks(endpoint_families(podman_families(snapshot, options), snapshot))


def _exposition(snapshots: Mapping[str, Snapshot], parts: Sequence[Sequence[Chunk]]) -> Exposition:
    text, openmetrics = arrange_chunks(parts)
    openmetrics.append(_EOF)
    return Exposition(snapshots=MappingProxyType(dict(snapshots)),
                      text=Body(TEXT_CONTENT_TYPE, text),
                      openmetrics=Body(OPENMETRICS_CONTENT_TYPE, openmetrics))


def render(
    snapshot: Snapshot, options: MetricOptions, extra: Sequence[Collector] = ()
) -> Exposition:
    """Return the Exposition of one endpoint's Snapshot plus the process's families and
    those of the ``extra`` collectors (process and platform metrics, collected here)."""
    return _exposition({snapshot.endpoint: snapshot}, [
        render_chunks(process_families(options)), _own(snapshot, options),
        _podman(snapshot, options), render_chunks(_extra_families(extra))])


class ExpositionCache:
    """Holds the latest Exposition of every endpoint together; written by the collection
    threads (one per endpoint), read per request.

    Each endpoint's families are rendered when its collection publishes; the served
    bodies are arranged from every endpoint's (each family under one header) and, for
    the formats asked for lately, joined (10 MB each at 50 endpoints of 100
    containers). That is not done in the publishing thread nor under the lock
    publications take: a publication marks the bodies stale and starts a joining thread
    unless one runs, which arranges and joins until nothing is stale (publications that
    come meanwhile share its next round), then ends. Requests are answered with the
    latest arrangement in place (``serving``), so a publication shows once its round
    ends, a few ms later, and no request waits for one; ``current`` instead arranges
    what is stale itself (or waits for the round under way): what was published is in
    it from the moment ``publish`` returns.

    When an endpoint's Podman series cannot be rendered (a bug meeting unexpected data),
    that failure is counted in its ``podman_exporter_publish_failures_total`` (logged,
    with the traceback the first time), its own series are still rendered afresh, and
    its Podman series last rendered are served again until they are older than
    ``max_age`` (then they are left out);
    ``podman_exporter_last_publish_success_timestamp_seconds`` says when its last
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
        self._version = 0
        """Changes published (or endpoints forgotten) so far."""
        self._joined = 0
        """The version ``_current`` was joined at."""
        self._joining = False
        """Whether a joining thread runs."""
        self._trimmed = -math.inf
        self._ready = threading.Event()
        self._lock = threading.Lock()
        """Held to change or read the endpoints' state (not while joining)."""
        self._join_lock = threading.Lock()
        """Held for a join."""
        self._endpoints: dict[str, _Endpoint] = {}
        self._process = render_chunks(process_families(options))
        self.first_success: float | None = None
        self._unasked = {"text": 0, "openmetrics": 0}
        """Per format: arrangements since it was last asked for (or since the first)."""
        self._unzipped = {"text": ASK_MEMORY, "openmetrics": ASK_MEMORY}
        """Per format: arrangements since its gzip form was last asked for."""

    @property
    def current(self) -> Exposition | None:
        """Return the latest Exposition (joined now if a publication is not in it yet),
        None before the first collection ended."""
        if self.stale:
            with self._join_lock:
                if self.stale:
                    self._assemble()
        return self._current

    @property
    def stale(self) -> bool:
        """Return whether a publication is not in the latest Exposition yet (``current``
        arranges it, or waits for the round under way)."""
        return self._joined != self._version

    @property
    def serving(self) -> Exposition | None:
        """Return the Exposition to answer a request with now, without waiting: the
        latest, also while the joining thread puts the next one together (a few ms);
        None when a reader must arrange it (``current``)."""
        if not self.stale or self._joining:
            return self._current
        return None

    @property
    def publish_failures(self) -> int:
        """Return the failed renderings of every endpoint since start."""
        return sum(e.failures for e in self._endpoints.values())

    def publish(self, snapshot: Snapshot) -> None:
        """Render an endpoint's Snapshot and serve it with the others' (see the class for
        failures and for when the bodies are joined)."""
        now = self._monotonic()
        with self._lock:
            state = self._endpoints.get(snapshot.endpoint)
            if state is None:
                state = self._endpoints[snapshot.endpoint] = _Endpoint(snapshot)
            try:
                state.podman = _podman(snapshot, self._options)
                state.good = (now, snapshot.taken_at)
            except Exception as exc:  # a rendering bug must not freeze /metrics silently
                state.podman = self._reuse(now, state, exc)
            state.snapshot = snapshot
            state.own = _own(replace(snapshot, publish_failures=state.failures,
                                     last_publish=state.good and state.good[1]),
                             self._options)
            if snapshot.up and self.first_success is None:
                self.first_success = snapshot.taken_at
            self._mark_stale()
        self._ready.set()

    def forget(self, endpoint: str) -> None:
        """Stop serving an endpoint's series (it is no longer watched)."""
        with self._lock:
            if self._endpoints.pop(endpoint, None) is not None:
                self._mark_stale()

    def _mark_stale(self) -> None:
        """Note a change the bodies lack, and start a joining thread unless one runs
        (lock held)."""
        self._version += 1
        if not self._joining:
            self._joining = True
            threading.Thread(target=self._join_while_stale, name="exposition-join",
                             daemon=True).start()

    def _join_while_stale(self) -> None:
        """Join the bodies until no change is left out of them; then end."""
        while True:
            with self._lock:
                if not self.stale:
                    self._joining = False
                    return
            try:
                with self._join_lock:
                    if self.stale:
                        self._assemble()
            except Exception:  # the next reader or publication tries again
                log.exception("joining the exposition failed")
                with self._lock:
                    self._joining = False
                return

    def _assemble(self) -> None:
        """Arrange every endpoint's rendered families into the bodies served, and join
        those asked for lately (join lock held; the state lock only while the parts are
        taken)."""
        with self._lock:
            version = self._version
            states = [self._endpoints[name] for name in sorted(self._endpoints)]
            snapshots = {s.snapshot.endpoint: s.snapshot for s in states}
            parts = [self._process, *(s.own for s in states), *(s.podman for s in states)]
        parts.append(render_chunks(_extra_families(self._extra)))
        current = _exposition(snapshots, parts)
        self._prepare_asked(self._current, current)  # readers keep the previous meanwhile
        self._current = current
        self._joined = version
        now = self._monotonic()
        if not 0 <= now - self._trimmed < TRIM_EVERY:
            self._trimmed = now
            trim()

    def _prepare_asked(self, previous: Exposition | None, current: Exposition) -> None:
        """Join the formats and compress the gzip forms asked for lately, so that scrapes
        find them ready."""
        for fmt in self._unasked:
            before: Body | None = getattr(previous, fmt, None)
            body: Body = getattr(current, fmt)
            asked = before is None or before.asked  # the first ones: before any scrape
            self._unasked[fmt] = 0 if asked else self._unasked[fmt] + 1
            zipped = before is not None and before.gzip_asked
            self._unzipped[fmt] = 0 if zipped else self._unzipped[fmt] + 1
            if self._unzipped[fmt] < ASK_MEMORY:
                body.compress()
            elif self._unasked[fmt] < ASK_MEMORY:
                body.join()

    def _reuse(self, now: float, state: _Endpoint, exc: Exception) -> list[Chunk]:
        """Count a failed rendering; return the endpoint's last Podman series while fresh
        enough."""
        state.failures += 1
        fresh = state.good is not None and 0 <= now - state.good[0] <= self._max_age
        log.error("rendering the Podman series of endpoint %s failed (%d failures so far); "
                  "%s: %r", state.snapshot.endpoint, state.failures,
                  "serving the previous ones" if fresh else "leaving them out",
                  exc, exc_info=state.failures == 1)
        return state.podman if fresh else []

    def wait(self, timeout: float) -> bool:
        """Return True once a first Exposition exists (for tests and start-up)."""
        return self._ready.wait(timeout)
