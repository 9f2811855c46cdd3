"""The collection loop: APScheduler runs one collection per interval, never two at once.

Each collection runs the enabled collectors (those with no prerequisite in
parallel), times each, and merges what they fetched with what earlier
collections fetched: a failed collector keeps its last good section until that
is older than ``max_age``, after which the section is dropped rather than served
stale. A collector with its own, slower interval (``intervals``) runs only when
its last success is that old, and its section stays fresh for that interval plus
``max_age``; in between, its last run's result is reported, as a failure while
Podman answers nothing. Such a collector also runs early when its ``stale`` check
finds its value out of date against the sections just fetched (checked after the
others ran), and at the first collection after an outage of Podman. The resulting
Snapshot goes to ``publish`` (the exposition cache).

Ages (max-age, the slow collectors' schedule) are measured on ``monotonic``, so a
wall-clock jump neither revives nor expires data; ``clock`` (wall time) only stamps
the exported times. An outage of Podman is logged once when it starts and once when
it ends; the collectors' failures while it lasts are logged at debug level.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

from apscheduler.schedulers.background import BackgroundScheduler

from podman_exporter.collect.collectors import CollectorSpec, Fetch
from podman_exporter.collect.runs import Run, run_one, wait
from podman_exporter.collect.watch import EventSource
from podman_exporter.podman.backend import PodmanBackend, PodmanError
from podman_exporter.snapshot.events import EventsSnapshot
from podman_exporter.snapshot.snapshot import CollectorStatus, Snapshot

log = logging.getLogger(__name__)

EVENT_DRIVEN = frozenset({"images", "pods", "volumes", "networks"})
"""Collectors whose data changes only with one of Podman's events."""
EVENT_DRIVEN_INTERVAL = 300.0
"""Their interval while the event stream is live: a refresh follows each of their
events; this only bounds how long a change could go unseen."""

BackendSource = Callable[[], PodmanBackend]
"""Return the backend to use; may raise PodmanError while Podman cannot be reached."""


@dataclass(slots=True)
class _Held:
    """The last good value of one section, and the running totals of its collector."""

    value: object = None
    fetched_at: float | None = None
    """``monotonic`` time of the last good value; None before any."""
    errors_total: int = 0
    bad_total: int = 0
    last: Run | None = None
    """The collector's last run, reported again while a slow collector waits."""


@dataclass
class CollectionLoop:
    """Collects on an interval and publishes each Snapshot."""

    backend: BackendSource
    collectors: Sequence[CollectorSpec]
    interval: float
    max_age: float
    publish: Callable[[Snapshot], None]
    clock: Callable[[], float] = time.time
    """Wall clock: the exported times (taken_at, last_success)."""
    monotonic: Callable[[], float] = time.monotonic
    """Measures ages: max-age and the slow collectors' intervals."""
    intervals: Mapping[str, float] = field(default_factory=dict)
    """Own interval of the collectors slower than ``interval``, by name."""
    events_for: Callable[[PodmanBackend], EventSource | None] | None = None
    """Return the event counts to publish for the backend, once it is first resolved."""
    endpoint: str = ""
    """Name of the Podman endpoint, stamped on every snapshot."""
    first: datetime | None = None
    """When the first collection runs (None: at start), the later ones following at
    whole intervals from it: endpoints are spread over the interval from one common
    time so that their collections do not contend."""
    where: Callable[[], str] = str
    """Return where Podman is reached (for the landing page)."""
    _held: dict[str, _Held] = field(default_factory=dict)
    _admin: dict[tuple[str, str], int] = field(default_factory=dict)
    _last_success: float | None = None
    _api: str = ""
    _up: bool = False
    """Whether Podman answered the last collection that asked it anything."""
    _taken: float | None = None
    """Wall time that collection ended."""
    _down_since: float | None = None
    """``monotonic`` time Podman stopped answering; None while it answers."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _running: threading.Lock = field(default_factory=threading.Lock)
    """Held for the whole of a collection: never two at once."""
    _pending: threading.Event = field(default_factory=threading.Event)
    _scheduler: BackgroundScheduler | None = None
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(8, thread_name_prefix="collector")
    )
    _fetch: dict[str, Fetch] = field(default_factory=dict)
    _events: EventSource | None = None
    _wanted: set[str] | None = field(default_factory=set)
    """Sections asked for by refreshes since the last collection; None: all of them."""

    def __post_init__(self) -> None:
        self._fetch = {spec.name: spec.factory() for spec in self.collectors}

    def start(self) -> None:
        """Start collecting now and every interval in a background thread."""
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self._scheduler.add_job(
            self._scheduled,
            "interval",
            seconds=self.interval,
            id="collect",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=self.first or datetime.now(UTC),
        )
        self._scheduler.start()

    def trigger(self, sections: frozenset[str] | None = None) -> None:
        """Collect as soon as possible, and after any collection running now: the
        collection that follows reflects every change made before this call. With
        ``sections``, only those collectors run (a refresh after Podman's events); the
        others' last results stand."""
        with self._lock:
            if sections is None:
                self._wanted = None
            elif self._wanted is not None:
                self._wanted |= sections
        self._pending.set()
        threading.Thread(target=self._triggered, name="collect-now", daemon=True).start()

    def _scheduled(self) -> None:
        with self._running:
            wanted = self._take_wanted()  # a refresh waiting now is done by this collection
            self.collect_once(also=frozenset(wanted or ()))

    def _triggered(self) -> None:
        with self._running:
            if self._pending.is_set():  # else a collection started since did the work
                wanted = self._take_wanted()
                self.collect_once(None if wanted is None else frozenset(wanted))

    def _take_wanted(self) -> set[str] | None:
        with self._lock:
            self._pending.clear()
            wanted, self._wanted = self._wanted, set()
        return wanted

    def stop(self) -> None:
        """Stop the scheduler and wait for a running collection to end."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        if self._events is not None:
            self._events.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        log.info("collection stopped")

    def count_admin_action(self, action: str, result: str) -> None:
        """Count one admin action; it shows in the next published snapshot."""
        with self._lock:
            self._admin[(action, result)] = self._admin.get((action, result), 0) + 1

    def collect_once(self, only: frozenset[str] | None = None, *,
                     also: frozenset[str] = frozenset()) -> Snapshot:
        """Run every due collector and those in ``also`` (or only those named in ``only``
        that have run before), publish and return the Snapshot."""
        runs = self._run_all(only, also)
        mono = self.monotonic()
        statuses = []
        sections: dict[str, object] = {}
        ran = [run for run in runs.values() if not run.skipped]
        # A refresh that ran nothing (only new event counts to publish) is no collection:
        # Podman's state and the collection's time stay those of the last one.
        answered = any(run.outcome is not None for run in ran) if ran else self._up
        now = self.clock() if ran or self._taken is None else self._taken
        self._up, self._taken = answered, now
        self._log_outage(answered, mono, runs)
        for spec in self.collectors:
            run = runs[spec.name]
            held = self._held.setdefault(spec.name, _Held())
            if run.unsupported:
                continue
            success = run.error is None
            if run.skipped and held.last is not None:
                # Not due: its last run stands, unless Podman answered nothing at all now.
                run = held.last
                success = run.error is None and answered
            else:
                if run.outcome is not None:
                    held.value, held.fetched_at = run.outcome.value, mono
                    held.bad_total += run.outcome.bad
                if run.error is not None:
                    held.errors_total += 1
                    log.log(logging.WARNING if answered else logging.DEBUG,
                            "collector %s failed: %s", spec.name, run.error)
                held.last = run
            max_age = self.max_age + (self._interval(spec.name) or 0.0)
            fresh = held.fetched_at is not None and 0 <= mono - held.fetched_at <= max_age
            sections[spec.name] = held.value if fresh else None
            statuses.append(
                CollectorStatus(spec.name, success, run.seconds, held.errors_total,
                                held.bad_total,
                                None if success else run.error or "Podman did not answer")
            )
        if answered and all(s.success for s in statuses):
            self._last_success = now
        events = self._observe_events(runs)
        with self._lock:
            admin = MappingProxyType(dict(self._admin))
        snapshot = Snapshot(
            taken_at=now,
            up=answered,
            endpoint=self.endpoint,
            url=self.where(),
            api=self._api,
            collectors=tuple(sorted(statuses, key=lambda s: s.name)),
            last_success=self._last_success,
            admin_actions=admin,
            events=events,
            **sections,  # type: ignore[arg-type]
        )
        try:
            self.publish(snapshot)
        except Exception:  # a rendering bug must not stop collecting
            log.exception("publishing the snapshot failed")
        return snapshot

    def _observe_events(self, runs: Mapping[str, Run]) -> EventsSnapshot | None:
        """Give the event counts this collection's container listing; return them."""
        if self._events is None:
            return None
        listing = runs.get("containers")
        if listing is not None and not listing.skipped and listing.error is None \
                and listing.outcome is not None and isinstance(listing.outcome.value, tuple):
            self._events.observe(listing.outcome.value, listing.started)
        return self._events.snapshot()

    def _log_outage(self, answered: bool, mono: float, runs: Mapping[str, Run]) -> None:
        """Log the start (with its reason) and the end of an outage of Podman, once each."""
        if not answered and self._down_since is None:
            self._down_since = mono
            reason = next((r.error for r in runs.values() if r.error), "no collector answered")
            log.warning("Podman unreachable: %s", reason)
        elif answered and self._down_since is not None:
            log.info("Podman reachable again after %.0fs", mono - self._down_since)
            self._down_since = None

    def _run_all(self, only: frozenset[str] | None,
                 also: frozenset[str]) -> dict[str, Run]:
        """Run the due collectors and those in ``also`` (of ``only``, if given); any
        exception, in resolving the backend or in a collector, is the failure of the
        collectors it concerns, never an escape."""
        runs = {spec.name: Run() for spec in self.collectors}
        try:
            backend = self.backend()
            self._api = backend.api
            if self._events is None and self.events_for is not None:
                self._events = self.events_for(backend)
        except Exception as exc:
            reason = str(exc) if isinstance(exc, PodmanError) else f"internal error: {exc!r}"
            for run in runs.values():
                run.error = reason or type(exc).__name__
            return runs
        futures: dict[str, Future[None]] = {}
        deferred: list[CollectorSpec] = []
        now = self.monotonic()
        for spec in self.collectors:  # prerequisites come first in COLLECTORS
            held = self._held.get(spec.name)
            if only is not None and spec.name not in only and held is not None \
                    and held.last is not None and held.last.error is None:
                runs[spec.name].skipped = True  # a refresh retries the failed ones too
                continue
            if only is None and spec.name not in also and not self._due(spec.name, now):
                if spec.stale is not None:
                    deferred.append(spec)
                else:
                    runs[spec.name].skipped = True
                continue
            needs = [futures[r] for r in spec.requires if r in futures]
            futures[spec.name] = self._pool.submit(
                run_one, spec, self._fetch[spec.name], backend, needs, runs)
        wait(futures, runs)
        if deferred:
            wait(self._run_stale(deferred, backend, runs), runs)
        return runs

    def _run_stale(self, deferred: Sequence[CollectorSpec], backend: PodmanBackend,
                   runs: Mapping[str, Run]) -> dict[str, Future[None]]:
        """Start the collectors not yet due whose held value the sections just fetched
        show to be out of date; mark the others skipped."""
        done = {name: run.outcome.value for name, run in runs.items()
                if run.outcome is not None and run.error is None}
        futures: dict[str, Future[None]] = {}
        for spec in deferred:
            held = self._held.get(spec.name)
            if spec.stale is not None and spec.stale(held.value if held else None, done):
                futures[spec.name] = self._pool.submit(
                    run_one, spec, self._fetch[spec.name], backend, [], runs)
            else:
                runs[spec.name].skipped = True
        return futures

    def _interval(self, name: str) -> float | None:
        """Return a collector's own interval; an event-driven one's is at least
        ``EVENT_DRIVEN_INTERVAL`` while the event stream is live (its events refresh it)."""
        own = self.intervals.get(name)
        if name in EVENT_DRIVEN and self._events is not None and self._events.live:
            return max(own or 0.0, EVENT_DRIVEN_INTERVAL)
        return own

    def _due(self, name: str, now: float) -> bool:
        """Return whether a collector runs now: always, unless it has its own interval and
        its last run succeeded less than that interval ago, with Podman answering since."""
        interval = self._interval(name)
        held = self._held.get(name)
        if interval is None or held is None or held.last is None or held.last.error \
                or held.fetched_at is None or self._down_since is not None:
            return True
        return not 0 <= now - held.fetched_at < interval
