"""State shared by the simulator's handlers: fleet, faults, stop flag, call counts."""

from __future__ import annotations

import threading
from collections import Counter

from podman_exporter.sim.faults import FaultState
from podman_exporter.sim.fleet import Fleet


class SimContext:
    """What one running simulator shares between its connections."""

    def __init__(self, fleet: Fleet, faults: FaultState) -> None:
        self.fleet = fleet
        self.faults = faults
        fleet.event_flood = lambda: faults.current.events_flood
        self.stop = threading.Event()
        self._calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, method: str) -> None:
        """Count one call of ``method`` (full varlink name)."""
        with self._lock:
            self._calls[method] += 1

    def calls(self) -> dict[str, int]:
        """Return calls so far by full method name."""
        with self._lock:
            return dict(self._calls)
