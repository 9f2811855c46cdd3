"""Options of a simulated Podman service."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from podman_exporter.sim.faults import Faults


@dataclass(frozen=True, slots=True)
class SimOptions:
    """The fleet to simulate, its churn and the faults in force at start.

    ``clock`` is a monotonic clock in seconds: counters and churn follow it, so a
    test can pass a fake one. ``start_wall`` (epoch seconds) fixes the wall time
    the service starts at; None takes the real time. The last ``crash_loopers`` of the
    containers (as many as there are) run with restart policy always and exit every
    ``crash_period`` seconds.
    """

    containers: int = 50
    images: int = 20
    seed: int = 1
    churn_per_minute: float = 0.0
    hostile_names: bool = False
    faults: Faults = field(default_factory=Faults)
    start_wall: float | None = None
    clock: Callable[[], float] = time.monotonic
    backlog: int = 128
    crash_loopers: int = 0
    crash_period: float = 5.0

    def __post_init__(self) -> None:
        """Validate; raises ValueError naming the bad option."""
        if self.containers < 0 or self.images < 1:
            raise ValueError("containers must be >= 0 and images >= 1")
        if self.churn_per_minute < 0:
            raise ValueError("churn_per_minute must not be negative")
        if self.backlog < 1:
            raise ValueError("backlog must be >= 1")
        if self.crash_loopers < 0 or not self.crash_period > 0:
            raise ValueError("crash_loopers must be >= 0 and crash_period > 0")

    @classmethod
    def demo(cls) -> SimOptions:
        """Return the options of demo mode: a lively fleet with hostile strings and a
        crash-looping container."""
        return cls(containers=40, images=15, churn_per_minute=6.0, hostile_names=True,
                   crash_loopers=1)
