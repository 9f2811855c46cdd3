"""The ``io.podman-exporter.simulator`` control interface: faults and fleet changes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib.resources import files
from typing import Any

import varlink

from podman_exporter.sim.context import SimContext
from podman_exporter.sim.faults import Faults
from podman_exporter.sim.model import ActionFailed, NotFound

CONTROL_INTERFACE = "io.podman-exporter.simulator"


@cache
def control_interface_text() -> str:
    """Return the control interface description (package data)."""
    return (files(__package__) / f"{CONTROL_INTERFACE}.varlink").read_text(encoding="utf-8")


def control_interface() -> varlink.Interface:
    """Return the parsed control interface, for clients."""
    return varlink.Interface(control_interface_text())


def _error(error: str, /, **parameters: Any) -> varlink.VarlinkError:
    return varlink.VarlinkError({"error": f"{CONTROL_INTERFACE}.{error}", "parameters": parameters})


@contextmanager
def _control_errors() -> Iterator[None]:
    try:
        yield
    except NotFound as exc:
        kind = "ContainerNotFound" if exc.kind == "container" else "ImageNotFound"
        raise _error(kind, name=exc.name) from None
    except (ActionFailed, ValueError, TypeError) as exc:
        raise _error("InvalidValue", reason=str(exc)) from None


class ControlAPI:
    """Handler of ``io.podman-exporter.simulator``."""

    def __init__(self, ctx: SimContext) -> None:
        self._ctx = ctx

    def GetFaults(self) -> dict[str, Any]:  # noqa: N802 - varlink method names
        """Return ``faults`` in force."""
        return {"faults": self._ctx.faults.current.to_varlink()}

    def SetFaults(self, faults: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        """Merge ``faults`` into those in force; return the result."""
        with _control_errors():
            return {"faults": self._ctx.faults.update(faults or {}).to_varlink()}

    def ClearFaults(self) -> dict[str, Any]:  # noqa: N802
        """Remove all faults; return them."""
        self._ctx.faults.set(Faults())
        return self.GetFaults()

    def SetContainerState(self, name: str, state: str, exit_code: int | None) -> dict[str, Any]:  # noqa: N802
        """Put a container in ``state``; return ``id``."""
        with _control_errors():
            return {"id": self._ctx.fleet.set_state(name, state, exit_code or 0)}

    def AddContainers(self, count: int, image: str | None) -> dict[str, Any]:  # noqa: N802
        """Create running containers; return ``ids``."""
        if not 0 <= count <= 100_000:
            raise _error("InvalidValue", reason="count must be within [0, 100000]")
        with _control_errors():
            return {"ids": self._ctx.fleet.add_containers(count, image)}

    def RemoveContainers(self, names: list[str]) -> dict[str, Any]:  # noqa: N802
        """Remove containers (forced); return ``ids``."""
        with _control_errors():
            return {"ids": [self._ctx.fleet.remove(n, True) for n in names]}

    def SetMemoryNearLimit(self, name: str, fraction: float | None) -> dict[str, Any]:  # noqa: N802
        """Hold memory near the limit; return ``id``."""
        with _control_errors():
            return {"id": self._ctx.fleet.set_memory_near_limit(name, fraction or 0.97)}

    def SetCpuBusy(self, name: str, busy: bool) -> dict[str, Any]:  # noqa: N802
        """Make a container CPU-busy or idle; return ``id``."""
        with _control_errors():
            return {"id": self._ctx.fleet.set_cpu_busy(name, bool(busy))}

    def SetChurn(self, per_minute: float) -> dict[str, Any]:  # noqa: N802
        """Set the churn rate."""
        if per_minute < 0:
            raise _error("InvalidValue", reason="per_minute must not be negative")
        self._ctx.fleet.set_churn(per_minute)
        return {}

    def AdvanceClock(self, seconds: float) -> dict[str, Any]:  # noqa: N802
        """Move the fleet clock forward; return the total ``offset``."""
        with _control_errors():
            return {"offset": self._ctx.fleet.advance(seconds)}

    def GetSummary(self) -> dict[str, Any]:  # noqa: N802
        """Return ``summary``: fleet counts and calls by method."""
        return {"summary": {**self._ctx.fleet.summary(), "calls": self._ctx.calls()}}
