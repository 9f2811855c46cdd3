"""The core of the simulated fleet: construction, index, clock, churn and test controls.

Time is the fleet's own clock (seconds since start, from ``SimOptions.clock``
plus any advance), so counters and churn are deterministic under a fake clock.
Churn runs lazily: every call first applies the churn events that fell due, and with
them the crash loops' exits and restarts and the event flood, in time order. Every
change is also logged as Podman's event stream shows it (``events``, sim/events.py).
"""

from __future__ import annotations

import bisect
import math
import random
import threading
import time
from collections import Counter
from typing import Any

from podman_exporter.podman.gotext import NS, ZONES
from podman_exporter.sim.build import MIB, Builder
from podman_exporter.sim.lifecycle import TRANSITION_EVENTS, FleetEvents
from podman_exporter.sim.model import (
    CPU,
    STATES,
    SYS,
    ActionFailed,
    NotFound,
    SimContainer,
    SimImage,
)
from podman_exporter.sim.options import SimOptions

_INITIAL_STATES = ("running", "exited", "paused", "created", "configured")
_INITIAL_WEIGHTS = (70, 15, 5, 7, 3)
_MAX_CHURN_EVENTS = 10_000
_STARTED_MONO_NS = 48_213_551  # the service's own start-up time, shown in ``m=+`` tails


class FleetCore(FleetEvents):
    """Containers, images and host of one simulated Podman; every method is thread-safe."""

    def __init__(self, options: SimOptions) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._clock = options.clock
        self._clock0 = options.clock()
        self._offset = 0.0
        wall = time.time() if options.start_wall is None else options.start_wall
        self._wall0_ns = int(wall * NS)
        rng = random.Random(f"fleet-{options.seed}")  # noqa: S311 - simulation, not crypto
        self._rng = rng
        self.zone = rng.choice(ZONES)
        self.cpus = rng.choice((2, 4, 8, 16))
        self.mem_total = self.cpus * rng.choice((2, 4, 8)) * 1024 * MIB
        self.hostname = f"podman-host-{options.seed}"
        self._boot_uptime = rng.uniform(600, 40 * 86400)
        self._builder = Builder(rng, self.mem_total, options.hostile_names)
        self._images = {im.id: im for im in self._builder.images(options.images, self._wall0_ns)}
        self._by_id: dict[str, SimContainer] = {}
        self._by_name: dict[str, SimContainer] = {}
        self._ids: list[str] = []
        for _ in range(options.containers):
            status = rng.choices(_INITIAL_STATES, _INITIAL_WEIGHTS)[0]
            created = self._wall0_ns - int(rng.uniform(60, 30 * 86400) * NS)
            c = self._new_container(status, created, None)
            if status in ("running", "paused"):
                c.started_ns = created + int(rng.uniform(0.2, 2.0) * NS)
                up = (self._wall0_ns - c.started_ns) / NS
                c.counters = [r * up for r in c.rates]
            elif status == "exited":
                c.started_ns = created + NS
                c.finished_ns = created + int(rng.uniform(2, 50_000) * NS)
        self.created_total = 0
        self.removed_total = 0
        self._init_events(options)
        self._churn = 0.0
        self._next_churn = math.inf
        self._churn_step = 0
        self.set_churn(options.churn_per_minute)

    # -- time and index -------------------------------------------------------------------

    def now(self) -> float:
        """Return fleet time: seconds since start, plus any advance."""
        return self._clock() - self._clock0 + self._offset

    def wall_ns(self, now: float) -> int:
        """Return the epoch nanoseconds of fleet time ``now``."""
        return self._wall0_ns + int(now * NS)

    def _new_container(self, status: str, created_ns: int, mono_ns: int | None) -> SimContainer:
        image = self._builder.pick_image(list(self._images.values()))
        c = self._builder.container(
            image, self._builder.name(self._by_name), status, created_ns, mono_ns
        )
        self._by_id[c.id] = c
        self._by_name[c.name] = c
        bisect.insort(self._ids, c.id)
        return c

    def _drop(self, c: SimContainer, t: float | None = None) -> None:
        t = self.now() if t is None else t
        if c.status in ("running", "paused"):
            self._emit(c, "died", t, 137)
            self._emit(c, "cleanup", t)
        self._emit(c, "remove", t)
        self._crash_due.pop(c.id, None)
        del self._by_id[c.id]
        del self._by_name[c.name]
        del self._ids[bisect.bisect_left(self._ids, c.id)]
        self.removed_total += 1
        self._changed.notify_all()

    def find(self, name: str) -> SimContainer:
        """Return the container with this full id, name or unique id prefix.

        Raises NotFound. The caller holds no lock: treat the result as read-only.
        """
        with self._lock:
            return self._find(name)

    def _find(self, name: str) -> SimContainer:
        if not isinstance(name, str):
            raise NotFound("container", str(name))
        c = self._by_id.get(name) or self._by_name.get(name)
        if c is not None:
            return c
        i = bisect.bisect_left(self._ids, name)
        ids = self._ids
        hit = bool(name) and i < len(ids) and ids[i].startswith(name)
        if hit and (i + 1 == len(ids) or not ids[i + 1].startswith(name)):
            return self._by_id[ids[i]]
        raise NotFound("container", name)

    def _find_image(self, name: str) -> SimImage:
        if not isinstance(name, str):
            raise NotFound("image", str(name))
        if name in self._images:
            return self._images[name]
        found = [
            im
            for im in self._images.values()
            if name and (im.id.startswith(name) or name in im.tags)
        ]
        if len(found) != 1:
            raise NotFound("image", name)
        return found[0]

    # -- churn and state changes ------------------------------------------------------------

    def set_churn(self, per_minute: float) -> None:
        """Set the churn rate: containers created (and as many removed) per minute."""
        with self._lock:
            self._tick()
            self._churn = max(0.0, per_minute)
            self._next_churn = self.now() + 60.0 / self._churn if self._churn else math.inf

    def _tick(self) -> float:
        """Apply due churn, crash-loop and flood events in time order; return fleet time
        now."""
        now = self.now()
        if min(self._next_churn, self._extra_due(now)) > now:
            return now
        if self._next_churn <= now:
            interval = 60.0 / self._churn
            if (now - self._next_churn) / interval > _MAX_CHURN_EVENTS:
                self._next_churn = now - interval * _MAX_CHURN_EVENTS
        while True:
            extra = self._extra_due(now)
            if min(self._next_churn, extra) > now:
                return now
            if self._next_churn <= extra:
                self._churn_event(self._next_churn)
                self._next_churn += 60.0 / self._churn
            else:
                self._fire_extra(extra)

    def pump(self) -> None:
        """Apply the churn, crash-loop and flood events that fell due."""
        with self._lock:
            self._tick()

    def _churn_event(self, t: float) -> None:
        step, rng = self._churn_step, self._rng
        self._churn_step += 1
        if step % 2 == 0 or not self._ids:
            self._create(t)
        else:
            self._drop(self._by_id[rng.choice(self._ids)], t)
        if step % 3 == 2 and self._ids:
            c = self._by_id[rng.choice(self._ids)]
            nxt = {"running": ("exited", "paused"), "paused": ("running",)}.get(
                c.status, ("running",)
            )
            self._transition(c, rng.choice(nxt), t, rng.choice((0, 1, 137, 143)))

    def _create(self, t: float) -> SimContainer:
        wall = self.wall_ns(t)
        c = self._new_container("running", wall, _STARTED_MONO_NS + int(t * NS))
        c.started_ns = wall + int(0.3 * NS)
        c.since = t
        c.counters = [0.0] * 6
        for action in ("create", "init", "start"):
            self._emit(c, action, t)
        self.created_total += 1
        self._changed.notify_all()
        return c

    def _transition(self, c: SimContainer, status: str, t: float, exit_code: int = 0,
                    emit: bool = True) -> None:
        """Move ``c`` to ``status`` at fleet time ``t`` as Podman would, logging the events
        Podman logs for it unless ``emit`` is False."""
        if status not in STATES:
            raise ActionFailed(f"unknown state {status!r}")
        if emit:
            for action in TRANSITION_EVENTS.get((c.status == "paused", c.running, status), ()):
                self._emit(c, action, t, exit_code if action == "died" else 0)
        c.fold(t)
        old = c.status
        c.status = status
        if status == "running" and old != "paused":
            # A new start means a new cgroup: the counters start again from zero.
            c.counters = [0.0] * 6
            c.started_ns = self.wall_ns(t)
            c.pid = self._rng.randrange(1000, 400000)
            c.restarts += old == "exited"
            c.exit_code = 0
        elif status == "exited":
            c.exit_code = exit_code
            c.finished_ns = self.wall_ns(t)
            c.pid = 0
        elif status != "paused":
            c.pid = 0
        self._changed.notify_all()

    # -- test controls --------------------------------------------------------------------

    def set_state(self, name: str, state: str, exit_code: int = 0) -> str:
        """Put a container in any state (exited with ``exit_code``); return its id."""
        with self._lock:
            now, c = self._tick(), self._find(name)
            self._transition(c, state, now, exit_code)
            return c.id

    def add_containers(self, count: int, image: str | None = None) -> list[str]:
        """Create ``count`` running containers (of ``image`` if given); return their ids."""
        with self._lock:
            now = self._tick()
            target = self._find_image(image) if image else None
            ids = []
            for _ in range(count):
                c = self._create(now)
                if target is not None:
                    c.image_id, c.image = target.id, (target.tags or [target.id])[0]
                ids.append(c.id)
            return ids

    def set_memory_near_limit(self, name: str, fraction: float = 0.97) -> str:
        """Hold memory usage near ``fraction`` of the limit (giving one if unlimited)."""
        if not 0.0 < fraction < 1.0:
            raise ActionFailed("fraction must be within (0, 1)")
        with self._lock:
            c = self._find(name)
            if c.mem_limit >= self.mem_total:
                c.mem_limit = 512 * MIB
            c.mem_base, c.mem_amp = int(c.mem_limit * fraction), min(0.01, 1 - fraction)
            return c.id

    def set_cpu_busy(self, name: str, busy: bool) -> str:
        """Make a container use about 1.5 cores (busy) or 1% of one; return its id."""
        with self._lock:
            now, c = self._tick(), self._find(name)
            c.fold(now)
            c.rates[CPU] = (1.5 if busy else 0.01) * NS
            c.rates[SYS] = c.rates[CPU] * 0.15
            return c.id

    def advance(self, seconds: float) -> float:
        """Move fleet time forward (counters grow, churn happens); return the total advance."""
        if seconds < 0:
            raise ActionFailed("time only moves forward")
        with self._lock:
            self._offset += seconds
            self._tick()
            return self._offset

    def summary(self) -> dict[str, Any]:
        """Return counts: containers, images, per-state, created and removed totals."""
        with self._lock:
            self._tick()
            states = Counter(c.status for c in self._by_id.values())
            return {
                "containers": len(self._by_id),
                "images": len(self._images),
                "states": dict(states),
                "created_total": self.created_total,
                "removed_total": self.removed_total,
                "clock_offset": self._offset,
            }

    def ids(self) -> list[str]:
        """Return the ids of all containers."""
        with self._lock:
            self._tick()
            return list(self._by_id)

    def containers_in(self, state: str) -> list[str]:
        """Return the names of containers in ``state``."""
        with self._lock:
            self._tick()
            return [c.name for c in self._by_id.values() if c.status == state]
