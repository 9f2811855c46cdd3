"""Faults the simulator injects: latency, errors, hangs, drops, malformed records, and on
the REST event stream dropped connections and an event flood."""

from __future__ import annotations

import dataclasses
import math
import random
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from podman_exporter.podman.interface import interface_text

ERROR_KINDS = ("ErrorOccurred", "RuntimeError")
ALL_METHODS = "*"
Action = Literal["hang", "drop", "error"]


def podman_methods() -> frozenset[str]:
    """Return the method names of ``io.projectatomic.podman``."""
    return frozenset(re.findall(r"^method (\w+)\(", interface_text(), re.MULTILINE))


@dataclass(frozen=True, slots=True)
class Faults:
    """What goes wrong, per call of an ``io.projectatomic.podman`` method.

    Rate tables map a method name (or ``*`` for every method) to a probability
    in [0, 1]. Latency and jitter are seconds: each call waits
    ``latency + uniform(0, jitter)`` before it is answered.

    On the REST event stream (sim/rest.py): ``events_drop_after`` > 0 closes each stream
    abruptly, in the middle of a line, after that many events; ``events_flood`` adds that
    many events per second to the fleet's event log (``exec``/``exec_died``).
    ``malformed_rate`` also puts a malformed line before an event with that probability.
    """

    latency: float = 0.0
    jitter: float = 0.0
    error_rates: Mapping[str, float] = field(default_factory=dict)
    error_kind: str = "ErrorOccurred"
    hang_rates: Mapping[str, float] = field(default_factory=dict)
    drop_rates: Mapping[str, float] = field(default_factory=dict)
    malformed_rate: float = 0.0
    null_lists: bool = False
    seed_naming: bool = False
    events_drop_after: int = 0
    events_flood: float = 0.0

    def __post_init__(self) -> None:
        """Validate; raises ValueError naming the bad field."""
        if self.latency < 0 or self.jitter < 0:
            raise ValueError("latency and jitter must not be negative")
        if self.error_kind not in ERROR_KINDS:
            raise ValueError(f"error_kind must be one of {', '.join(ERROR_KINDS)}")
        if not 0.0 <= self.malformed_rate <= 1.0:
            raise ValueError("malformed_rate must be within [0, 1]")
        if self.events_drop_after < 0 or not 0.0 <= self.events_flood <= 1e6:
            raise ValueError("events_drop_after must be >= 0, events_flood within [0, 1e6]")
        known = podman_methods() | {ALL_METHODS}
        for name in ("error_rates", "hang_rates", "drop_rates"):
            for method, rate in getattr(self, name).items():
                if method not in known:
                    raise ValueError(f"{name}: unknown method {method!r}")
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"{name}[{method}] must be within [0, 1]")

    @staticmethod
    def kinds() -> tuple[str, ...]:
        """Return the error kinds an injected error can have."""
        return ERROR_KINDS

    @staticmethod
    def rate(table: Mapping[str, float], method: str) -> float:
        """Return the probability a table gives ``method`` (its own entry, else ``*``)."""
        return table.get(method, table.get(ALL_METHODS, 0.0))

    def to_varlink(self) -> dict[str, Any]:
        """Return the control interface's ``Faults`` record (durations in ms)."""
        return {
            "latency_ms": self.latency * 1000.0,
            "jitter_ms": self.jitter * 1000.0,
            "error_rates": dict(self.error_rates),
            "error_kind": self.error_kind,
            "hang_rates": dict(self.hang_rates),
            "drop_rates": dict(self.drop_rates),
            "malformed_rate": self.malformed_rate,
            "null_lists": self.null_lists,
            "seed_naming": self.seed_naming,
            "events_drop_after": self.events_drop_after,
            "events_flood": self.events_flood,
        }

    def merged(self, record: Mapping[str, Any]) -> Faults:
        """Return these faults with the fields present in a ``Faults`` record replaced."""
        changes: dict[str, Any] = {}
        for key, value in record.items():
            if value is None:
                continue
            if key in ("latency_ms", "jitter_ms"):
                changes[key[:-3]] = float(value) / 1000.0
            elif key in ("error_rates", "hang_rates", "drop_rates"):
                changes[key] = {str(k): float(v) for k, v in value.items()}
            else:
                changes[key] = value
        return dataclasses.replace(self, **changes)


class FaultState:
    """The current faults, replaceable while the service runs; draws are thread-safe."""

    def __init__(self, faults: Faults, seed: int) -> None:
        self._faults = faults
        self._lock = threading.Lock()
        self._rng = random.Random(f"faults-{seed}")  # noqa: S311 - simulation, not crypto

    @property
    def current(self) -> Faults:
        """Return the faults in force."""
        return self._faults

    def set(self, faults: Faults) -> None:
        """Replace all faults."""
        self._faults = faults

    def update(self, record: Mapping[str, Any]) -> Faults:
        """Merge a ``Faults`` record into the current faults; return the result."""
        with self._lock:
            self._faults = self._faults.merged(record)
            return self._faults

    def chance(self, probability: float) -> bool:
        """Return True with the given probability."""
        if probability <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < probability

    def delay(self) -> float:
        """Return the seconds the next call waits before it is answered."""
        faults = self._faults
        if faults.jitter <= 0.0:
            return faults.latency
        with self._lock:
            return faults.latency + self._rng.uniform(0.0, faults.jitter)

    def decide(self, method: str) -> Action | None:
        """Return the transport fault for one call of ``method``, if any."""
        faults = self._faults
        if self.chance(Faults.rate(faults.hang_rates, method)):
            return "hang"
        if self.chance(Faults.rate(faults.error_rates, method)):
            return "error"
        if self.chance(Faults.rate(faults.drop_rates, method)):
            return "drop"
        return None

    def malform(self, record: dict[str, Any]) -> dict[str, Any]:
        """Return ``record``, or a broken copy with the malformed rate's probability."""
        if not self.chance(self._faults.malformed_rate):
            return record
        with self._lock:
            return malformed(record, self._rng)


_BAD_VALUES: tuple[Any, ...] = (
    None,
    "not-a-number",
    -7,
    2**70,
    -(2**63),
    math.nan,
    math.inf,
    "NaN",
    ["unexpected", "list"],
    {"unexpected": "object"},
    True,
)


def malformed(record: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Return a copy of ``record`` with one field broken.

    The field gets a wrong type, a null, a huge or negative number, a NaN-like
    value, or goes missing.
    """
    broken = dict(record)
    key = rng.choice(sorted(broken))
    if rng.random() < 0.2:
        del broken[key]
        return broken
    choices = [*_BAD_VALUES, 12345] if isinstance(broken[key], str) else list(_BAD_VALUES)
    broken[key] = rng.choice(choices)
    return broken


def nulled(value: Any) -> Any:
    """Return ``value`` with every empty list replaced by None (Go's nil slices)."""
    if isinstance(value, list):
        return [nulled(v) for v in value] if value else None
    if isinstance(value, dict):
        return {k: nulled(v) for k, v in value.items()}
    return value
