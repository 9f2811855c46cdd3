"""What Podman's events add to the collections of one endpoint.

``EventWatch`` (REST): the event stream feeds ``EventCounters`` (exits, restarts, OOM
kills, events by type and action); every event, and every change of the stream's
state, asks the loop for a refresh (rate-limited), which collects the sections the
events changed (none for most: then it only publishes the new counts); the memory cgroups of
the running containers are read for their OOM kills after each listing and at once on
a ``died`` event (the cgroup goes 0.1-0.2 s after the kill).

``ListingEvents`` (varlink, which has no event stream): exits and restarts derived
from what changed between two listings; a container that restarts between two
collections is not seen.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from types import MappingProxyType
from typing import Protocol

from podman_exporter.collect.debounce import Debouncer
from podman_exporter.collect.events import EventCounters, triggers_refresh
from podman_exporter.podman.event_stream import EventStream
from podman_exporter.podman.events import Event
from podman_exporter.podman.oom import container_of_cgroup, memory_cgroup, oom_kills
from podman_exporter.snapshot.events import ContainerEvents, EventsSnapshot
from podman_exporter.snapshot.model import Container, ContainerState

log = logging.getLogger(__name__)

SECTIONS_OF = {
    "container": ("containers",),
    "pod": ("pods", "containers"),
    "image": ("images",),
    "volume": ("volumes",),
    "network": ("networks",),
}
"""The collectors whose data an event of each type changes."""


IMAGE_USE_ACTIONS = frozenset({"create", "remove"})
"""Container actions that change their image's count of containers (no image event)."""


def sections_of(event: Event) -> tuple[str, ...]:
    """Return the collectors whose data ``event`` changes: a container's creation or
    removal changes its image's container count, and a pod member's event its pod's
    state and container count (Podman sends no image or pod event for these)."""
    sections = SECTIONS_OF.get(event.type, ())
    if event.type != "container":
        return sections
    if event.action in IMAGE_USE_ACTIONS:
        sections = (*sections, "images")
    if event.pod_id:
        sections = (*sections, "pods")
    return sections


OOM_READ_INTERVAL = 60.0
"""Seconds between two readings of a running container's memory cgroup: kills that end
the container are read at once on its died event, and the kernel log (when readable)
reports every kill as it happens; this reading catches a killed child process of a
container that keeps running."""
MAX_REFRESH_PER_SECOND = 2.0
"""Refreshes an event burst may cause: the first at once, then at most this many a second."""


class EventSource(Protocol):
    """Counts that a collection loop publishes with each snapshot."""

    def observe(self, containers: Sequence[Container], listed_at: float) -> None:
        """Take a container listing asked for at ``listed_at`` (``time.monotonic``)."""

    def snapshot(self) -> EventsSnapshot:
        """Return the counts now."""

    def stop(self) -> None:
        """Stop reading events."""

    @property
    def live(self) -> bool:
        """Return whether every change of the event-driven sections comes as an event."""


class OomCgroups:
    """Reads the memory cgroups' OOM kill counts of running containers, when the exporter
    shares the host's ``/proc`` and cgroup tree (a container's cgroup is found through
    its process and must name the container: another host's pid reads nothing)."""

    def __init__(self, counters: EventCounters) -> None:
        self._counters = counters
        self._paths: dict[str, tuple[int, str]] = {}
        """Memory cgroup by container id, with the pid it was found through."""
        self._read: dict[str, float] = {}
        """``time.monotonic`` of each container's last reading."""
        self._misses: dict[str, int] = {}
        """Containers whose process (this pid) showed no cgroup of theirs here."""
        self._lock = threading.Lock()

    def observe(self, containers: Sequence[Container]) -> None:
        """Read the count of every running container not read in the last
        ``OOM_READ_INTERVAL`` seconds (a died event reads at once); forget the cgroups of
        containers no longer listed."""
        paths: dict[str, tuple[int, str]] = {}
        now = time.monotonic()
        for c in containers:
            if c.pid is None or c.state not in (ContainerState.RUNNING, ContainerState.PAUSED):
                continue
            with self._lock:
                known = self._paths.get(c.id)
            if known is not None and known[0] == c.pid:
                paths[c.id] = known
                if now - self._read.get(c.id, -math.inf) < OOM_READ_INTERVAL:
                    continue
            else:
                if self._misses.get(c.id) == c.pid:  # its process is not this host's
                    continue
                path = memory_cgroup(c.pid)
                if path is None or container_of_cgroup(path) != c.id:
                    self._misses[c.id] = c.pid
                    continue
                paths[c.id] = (c.pid, path)
            self._read[c.id] = now
            self._counters.observe_oom(c.id, oom_kills(paths[c.id][1]), now)
        listed = {c.id for c in containers}
        with self._lock:
            # A container that stopped keeps its path: its died event may still come.
            self._paths = {**{k: v for k, v in self._paths.items()
                              if k not in paths and k in listed}, **paths}
            self._read = {k: v for k, v in self._read.items() if k in listed}
            self._misses = {k: v for k, v in self._misses.items() if k in listed}

    def died(self, container_id: str) -> None:
        """Read the count of a container that just died, while its cgroup may remain."""
        with self._lock:
            known = self._paths.pop(container_id, None)
        if known is not None:
            self._counters.observe_oom(container_id, oom_kills(known[1]), time.monotonic())


class EventWatch:
    """The event stream of one REST endpoint and what it feeds (see the module docstring)."""

    def __init__(self, url: str, refresh: Callable[[frozenset[str]], None], *,
                 read_cgroups: bool = True) -> None:
        self.counters = EventCounters()
        self._refresh = refresh
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._debouncer = Debouncer(self._fire, MAX_REFRESH_PER_SECOND)
        self._cgroups = OomCgroups(self.counters) if read_cgroups else None
        self._stream = EventStream(url, self._on_event, on_state=self._on_state,
                                   on_bad=self.counters.count_bad)

    def start(self) -> None:
        """Start reading the event stream."""
        self._stream.start()

    def stop(self) -> None:
        """Stop reading and cancel a planned refresh."""
        self._debouncer.stop()
        self._stream.stop()

    def _on_event(self, event: Event) -> None:
        self.counters.feed(event)
        if event.action == "died" and self._cgroups is not None:
            self._cgroups.died(event.id)
        if triggers_refresh(event):
            with self._lock:
                self._pending.update(sections_of(event))
        self._debouncer.poke()  # new counts: publish them, with the sections if any

    def _on_state(self, up: bool) -> None:
        self.counters.set_stream_up(up)
        if up:  # what changed before the stream began is seen by refreshing it all
            with self._lock:
                self._pending.update(s for sections in SECTIONS_OF.values() for s in sections)
        self._debouncer.poke()

    @property
    def live(self) -> bool:
        """Return whether the event stream is connected."""
        return self._stream.connected

    def _fire(self) -> None:
        with self._lock:
            sections, self._pending = frozenset(self._pending), set()
        self._refresh(sections)

    def kernel_oom(self, container_id: str) -> None:
        """Count an OOM kill the kernel log reported (ignored for an unknown container)."""
        self.counters.count_kernel_oom(container_id)

    def observe(self, containers: Sequence[Container], listed_at: float) -> None:
        """Take a listing: new containers start at 0, gone ones go; read the OOM kills."""
        self.counters.observe_listing((c.id for c in containers), listed_at)
        if self._cgroups is not None:
            self._cgroups.observe(containers)

    def snapshot(self) -> EventsSnapshot:
        """Return the counts now."""
        return self.counters.snapshot()


_RUNNING = frozenset({ContainerState.RUNNING, ContainerState.PAUSED})
_ENDED = frozenset({ContainerState.EXITED, ContainerState.STOPPED})


class ListingEvents:
    """Exits and restarts derived from successive listings (varlink): a running container
    that is no longer running exited once; one that ran, ended and runs again was
    restarted once. No events, no stream state, no OOM kills (absent)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, ContainerEvents] = {}
        self._states: dict[str, ContainerState] = {}
        self._version = 0

    def observe(self, containers: Sequence[Container], listed_at: float) -> None:
        """Compare the listing with the previous one (``listed_at`` is not needed here)."""
        with self._lock:
            counts, states = {}, {}
            for c in containers:
                before = self._states.get(c.id)
                count = self._counts.get(c.id, ContainerEvents())
                if before in _RUNNING and c.state not in _RUNNING:
                    count = ContainerEvents(count.exits + 1, count.restarts)
                elif before in _ENDED and c.state in _RUNNING:
                    count = ContainerEvents(count.exits, count.restarts + 1)
                counts[c.id], states[c.id] = count, c.state
            if counts != self._counts:
                self._version += 1
            self._counts, self._states = counts, states

    def snapshot(self) -> EventsSnapshot:
        """Return the derived counts; no stream (``stream_up`` None)."""
        with self._lock:
            return EventsSnapshot(containers=MappingProxyType(dict(self._counts)),
                                  stream_up=None, version=self._version)

    def stop(self) -> None:
        """Nothing to stop."""

    @property
    def live(self) -> bool:
        """Return False: varlink has no events."""
        return False


def dispatch_kernel_oom(watches: Callable[[], Iterable[EventWatch]]) -> Callable[[str], None]:
    """Return a handler of kernel-reported OOM kills that tells every watch ``watches``
    returns at the time (only the one that knows the container counts it)."""
    def handle(container_id: str) -> None:
        for watch in watches():
            watch.kernel_oom(container_id)
    return handle
