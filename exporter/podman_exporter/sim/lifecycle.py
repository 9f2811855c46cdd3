"""The simulated fleet's events: logging Podman's events for every change, the
crash-looping containers (restart policy always) and the event flood."""

from __future__ import annotations

import math
from collections.abc import Callable

from podman_exporter.podman.gotext import NS
from podman_exporter.sim.build import Builder
from podman_exporter.sim.events import EventLog, event_record
from podman_exporter.sim.model import SimContainer
from podman_exporter.sim.options import SimOptions

CRASH_EXIT_CODE = 1
_MAX_FLOOD_EVENTS = 100_000
_MAX_CRASHES = 100
"""Crashes of one container applied at most per tick (after a long clock advance)."""

TRANSITION_EVENTS: dict[tuple[bool, bool, str], tuple[str, ...]] = {
    # (was paused, was running, new state) -> the events Podman logs
    (False, True, "exited"): ("died", "cleanup"),
    (True, False, "exited"): ("died", "cleanup"),
    (False, True, "paused"): ("pause",),
    (True, False, "running"): ("unpause",),
    (False, False, "running"): ("init", "start"),
}


class FleetEvents:
    """Event logging, crash loops and event flood of FleetCore (a base class holding no
    state of its own before ``_init_events``)."""

    _by_id: dict[str, SimContainer]
    _by_name: dict[str, SimContainer]
    _ids: list[str]
    _builder: Builder
    _wall0_ns: int

    def wall_ns(self, now: float) -> int:
        """Return the epoch nanoseconds of fleet time ``now``."""
        raise NotImplementedError

    def _transition(self, c: SimContainer, status: str, t: float, exit_code: int = 0,
                    emit: bool = True) -> None:
        raise NotImplementedError

    def _init_events(self, options: SimOptions) -> None:
        self.events = EventLog()
        self.event_flood: Callable[[], float] = lambda: 0.0
        """Events per second of the event flood (the simulator points it at its faults)."""
        self._next_flood = math.inf
        self._flood_step = 0
        self._crash_period = options.crash_period
        self._crash_due: dict[str, float] = {}
        loopers = min(options.crash_loopers, len(self._by_id))
        for c in list(self._by_id.values())[len(self._by_id) - loopers:]:
            self._make_crash_looper(c)

    def _emit(self, c: SimContainer, action: str, t: float, exit_code: int = 0) -> None:
        self.events.append(event_record("container", action, c.id, name=c.name, image=c.image,
                                        time_nano=self.wall_ns(t), exit_code=exit_code))

    def _make_crash_looper(self, c: SimContainer) -> None:
        """Make ``c`` a running container with restart policy always that exits every
        ``crash_period`` seconds."""
        del self._by_name[c.name]
        c.name = self._builder.name(self._by_name).split("_")[0] + "_crashloop"
        while c.name in self._by_name:
            c.name += "_"
        self._by_name[c.name] = c
        c.status, c.exit_code, c.finished_ns = "running", 0, 0
        c.started_ns = self._wall0_ns - NS
        c.pid = 1000 + int(c.id[:5], 16) % 400_000
        c.labels = {**c.labels, "restart-policy": "always"}
        self._crash_due[c.id] = self._crash_period

    def _extra_due(self, now: float) -> float:
        """Return the fleet time of the next crash or flood event (skipping what a long
        clock advance would pile up)."""
        rate = self.event_flood()
        if rate <= 0:
            self._next_flood = math.inf
        elif self._next_flood == math.inf:
            self._next_flood = now
        elif (now - self._next_flood) * rate > _MAX_FLOOD_EVENTS:
            self._next_flood = now - _MAX_FLOOD_EVENTS / rate
        for cid, due in self._crash_due.items():
            self._crash_due[cid] = max(due, now - _MAX_CRASHES * self._crash_period)
        return min(self._next_flood, min(self._crash_due.values(), default=math.inf))

    def _fire_extra(self, t: float) -> None:
        """Apply the crash or flood event due at ``t``."""
        crashing = next((cid for cid, due in self._crash_due.items() if due == t), None)
        if crashing is not None:
            self._crash_event(crashing, t)
            return
        rate = self.event_flood()
        self._next_flood = t + 1.0 / rate if rate > 0 else math.inf
        self._flood_event(t)

    def _crash_event(self, cid: str, t: float) -> None:
        """Exit and restart a crash-looping container as Podman's restart policy does
        (``died``, ``restart``, ``init``, ``start``)."""
        self._crash_due[cid] = t + self._crash_period
        c = self._by_id[cid]
        if not c.running:
            return
        self._emit(c, "died", t, CRASH_EXIT_CODE)
        self._transition(c, "exited", t, CRASH_EXIT_CODE, emit=False)
        for action in ("restart", "init", "start"):
            self._emit(c, action, t)
        self._transition(c, "running", t, emit=False)

    def _flood_event(self, t: float) -> None:
        """Log one event of the flood: ``exec`` and ``exec_died`` in turn, on the first
        running container."""
        self._flood_step += 1
        target = next((self._by_id[i] for i in self._ids if self._by_id[i].running), None)
        if target is not None:
            self._emit(target, "exec" if self._flood_step % 2 else "exec_died", t)
