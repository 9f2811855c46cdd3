"""Counts from Podman's event stream, per container and in total: thread-safe, no I/O.

The event stream's thread calls ``feed``, ``set_stream_up`` and ``count_bad``; the
collection calls ``observe_listing`` with every container listing and ``observe_oom``
with the memory cgroups' OOM kill counts (podman/oom.py), a kernel log reader calls
``count_kernel_oom``; ``snapshot()`` returns the
immutable EventsSnapshot the metric families are built from.

- exits: every ``died`` event.
- restarts: every ``restart`` event. Podman's restart policy logs ``died`` then
  ``restart`` (these are what inspect's ``RestartCount`` counts); ``podman restart``
  logs ``restart`` then ``died`` and leaves RestartCount alone: both are restarts here.
  Not counted: a ``restart`` of a container that has not run since its ``create``
  (Podman 4.3 logs one for a pod's infra container when the pod first starts).
- OOM kills: ``oom`` events (Podman 4.3 sends none), kills reported by the kernel log
  (``count_kernel_oom``), and the memory cgroup's count, which starts at 0 in each new
  cgroup (each start): a reading below the previous one starts a new cgroup lifetime,
  and the lifetimes are summed; a reading taken before one already observed is ignored.
  The largest of the sources is reported, never their sum (they count the same kills);
  unknown (None) until one of them is known.
- A container's counts start at 0 when it is first seen (an event, or a listing once
  the stream has been connected) and go with it on ``remove`` or when a listing that
  began after its last event no longer has it.

Times (``listed_at``, ``read_at``) are on ``clock``, ``time.monotonic`` by default.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import MappingProxyType

from podman_exporter.podman.events import Event
from podman_exporter.snapshot.events import ContainerEvents, EventsSnapshot

_MAX_REMOVED = 10_000
"""Removed container ids remembered (a listing begun before a removal may still have
the container: it must not come back)."""


def _pairs(kind: str, actions: str) -> list[tuple[str, str]]:
    return [(kind, action) for action in actions.split()]


REFRESH_EVENTS: frozenset[tuple[str, str]] = frozenset(
    _pairs("container", "create init start died remove pause unpause rename health_status")
    + _pairs("pod", "create start stop kill pause unpause remove")
    + _pairs("image", "pull remove tag untag build import load")
    + _pairs("volume", "create remove prune")
    + _pairs("network", "create remove")
)
"""(type, action) of the events after which a collection shows something new."""


def triggers_refresh(event: Event) -> bool:
    """Return whether a collection after ``event`` shows something new (a state, name,
    health, or a container, pod, image, volume or network that came or went)."""
    return (event.type, event.action) in REFRESH_EVENTS


@dataclass(slots=True)
class _Container:
    touched: float
    """``clock`` time of the last event (or listing that added it)."""
    exits: int = 0
    restarts: int = 0
    oom_events: int = 0
    kernel_ooms: int = 0
    cgroup_base: int = 0
    """OOM kills of the cgroups before the current one."""
    cgroup_last: int | None = None
    read_at: float = -math.inf
    fresh: bool = False
    """Created and not run since."""

    def value(self, oom_events_known: bool) -> ContainerEvents:
        known = [self.oom_events] if self.oom_events or oom_events_known else []
        if self.kernel_ooms:
            known.append(self.kernel_ooms)
        if self.cgroup_last is not None:
            known.append(self.cgroup_base + self.cgroup_last)
        return ContainerEvents(self.exits, self.restarts, max(known) if known else None)


class EventCounters:
    """The counts of one Podman endpoint's event stream; every method is thread-safe.

    ``on_refresh`` is called (outside the lock, in the feeding thread) after each event
    in REFRESH_EVENTS: hand it a Debouncer's ``poke``. With ``oom_events_known`` (a Podman
    that sends ``oom`` events reliably) the OOM count is 0, not unknown, for a container
    without events or cgroup readings.
    """

    def __init__(self, on_refresh: Callable[[], None] | None = None, *,
                 oom_events_known: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._on_refresh = on_refresh
        self._oom_events_known = oom_events_known
        self._clock = clock
        self._lock = threading.Lock()
        self._containers: dict[str, _Container] = {}
        self._removed: dict[str, float] = {}
        self._totals: Counter[tuple[str, str]] = Counter()
        self._up = False
        self._ever_up = False
        self._bad = 0
        self._version = 0

    def feed(self, event: Event) -> None:
        """Count one event from the stream."""
        with self._lock:
            self._version += 1
            self._ever_up = True
            self._totals[(event.type, event.action)] += 1
            if event.type == "container" and event.id:
                self._container_event(event)
        if self._on_refresh is not None and triggers_refresh(event):
            self._on_refresh()

    def _container_event(self, event: Event) -> None:
        now = self._clock()
        if event.action == "remove":
            self._containers.pop(event.id, None)
            self._removed.pop(event.id, None)
            self._removed[event.id] = now
            if len(self._removed) > _MAX_REMOVED:
                for old in list(itertools.islice(self._removed, _MAX_REMOVED // 2)):
                    del self._removed[old]
            return
        c = self._containers.get(event.id)
        if c is None:
            c = self._containers[event.id] = _Container(now)
        c.touched = now
        action = event.action
        if action == "died":
            c.exits += 1
        elif action == "restart" and not c.fresh:
            c.restarts += 1
        elif action == "oom":
            c.oom_events += 1
        if action == "create":
            c.fresh = True
        elif action in ("init", "start", "died", "restart"):
            c.fresh = False

    def set_stream_up(self, up: bool) -> None:
        """Note whether the event stream is connected."""
        with self._lock:
            if up != self._up:
                self._version += 1
            self._up = up
            self._ever_up = self._ever_up or up

    def count_bad(self, reason: str = "") -> None:
        """Count one line of the stream that was not an event (``reason`` is for the log,
        which the stream writes)."""
        with self._lock:
            self._bad += 1
            self._version += 1

    def observe_listing(self, ids: Iterable[str], listed_at: float) -> None:
        """Take a listing of every container (full ids) asked for at ``listed_at``: listed
        containers not known yet start at 0, known ones not listed go, unless an event
        came for them after ``listed_at``. Nothing happens before the stream first
        connected."""
        with self._lock:
            if not self._ever_up:
                return
            listed = set(ids)
            for cid in [c for c, v in self._containers.items()
                        if c not in listed and v.touched < listed_at]:
                del self._containers[cid]
            now = self._clock()
            for cid in listed:
                if cid not in self._containers and self._removed.get(cid, -math.inf) < listed_at:
                    self._containers[cid] = _Container(now)
            self._removed = {c: t for c, t in self._removed.items() if t >= listed_at}
            self._version += 1

    def observe_oom(self, container_id: str, count: int | None, read_at: float) -> None:
        """Take a reading of a container's memory cgroup OOM kill count taken at
        ``read_at`` (None, unknown, changes nothing; nor does an unknown container)."""
        if count is None or count < 0:
            return
        with self._lock:
            c = self._containers.get(container_id)
            if c is None or read_at < c.read_at:
                return
            c.read_at = read_at
            if c.cgroup_last is not None and count < c.cgroup_last:
                c.cgroup_base += c.cgroup_last  # a new cgroup: the container restarted
            if count != c.cgroup_last:
                self._version += 1
            c.cgroup_last = count

    def count_kernel_oom(self, container_id: str) -> None:
        """Count one OOM kill of a process of the container that the kernel log reported
        (podman/oom.py ``kernel_oom_kill``); an unknown container is ignored."""
        with self._lock:
            c = self._containers.get(container_id)
            if c is not None:
                c.kernel_ooms += 1
                self._version += 1

    @property
    def version(self) -> int:
        """Return a number that grows with every change of the counts."""
        return self._version

    def snapshot(self) -> EventsSnapshot:
        """Return the counts now, immutable."""
        with self._lock:
            known = self._oom_events_known
            return EventsSnapshot(
                containers=MappingProxyType(
                    {cid: c.value(known) for cid, c in self._containers.items()}),
                events_total=MappingProxyType(dict(self._totals)),
                stream_up=self._up,
                bad_events_total=self._bad,
                version=self._version,
            )
