"""Fixtures of the reliability suite: measured figures, hypothesis profiles, processes.

Every figure a test measures goes to the ``figures`` fixture; the summary at the end
of the run lists them (and writes them as JSON to ``$RELIABILITY_FIGURES`` if set),
for docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))  # podman_env

from rel_procs import Simulator

settings.register_profile(
    "reliability-short", max_examples=300, deadline=None, derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "reliability-soak", max_examples=10_000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_FIGURES: dict[str, Any] = {}


@pytest.fixture(scope="session")
def figures() -> dict[str, Any]:
    """Return the session's measured figures (name -> value), reported at the end."""
    return _FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the measured figures; write them to $RELIABILITY_FIGURES as JSON."""
    if not _FIGURES:
        return
    terminalreporter.section("reliability figures")
    for name, figure in sorted(_FIGURES.items()):
        terminalreporter.write_line(f"{name}: {figure}")
    target = os.environ.get("RELIABILITY_FIGURES")
    if target:
        Path(target).write_text(json.dumps(_FIGURES, indent=2, sort_keys=True) + "\n")


@pytest.fixture()
def simulator(tmp_path: Path) -> Iterator[Simulator]:
    """Return a simulated Podman subprocess (20 containers, 8 images), stopped afterwards."""
    sim = Simulator(tmp_path / "podman.sock", tmp_path / "sim.log",
                    ["--containers", "20", "--images", "8"])
    yield sim
    sim.stop()
