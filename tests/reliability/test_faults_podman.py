"""Podman faults on a real, private Podman REST service (tests/e2e/podman_env.py):
killed, restarted, and hung (SIGSTOP: the socket accepts, nothing answers).

The exporter (interval 1 s, timeout 500 ms) must answer 200 on every probe, show
the fault in the first collection after it, stay within the timeout bounds and
recover without a restart.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from podman_env import IMAGE, PodmanEnv, private_podman
from rel_faults import after_change, all_down, all_up, probe_for
from rel_procs import Exporter, exporter, success

pytestmark = [pytest.mark.realpodman, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def podman() -> Iterator[PodmanEnv]:
    """Return a private Podman with its REST service and two running containers."""
    with private_podman("pe-rel-") as env:
        env.run_parallel([["run", "-d", "--network", env.network, "--name", f"rel-{n}", IMAGE,
                           "sleep", "100000"] for n in ("a", "b")])
        yield env


@pytest.fixture()
def exp(podman: PodmanEnv, tmp_path: Path) -> Iterator[Exporter]:
    """Return an exporter on the REST service, once every collector succeeds."""
    if podman.service is None:
        podman.start_service()
    with exporter(podman.url, "rest", tmp_path / "exporter.log") as running:
        running.wait_for(all_up, "every collector succeeding")
        yield running


def _down_then_up(exp: Exporter, what: str, figures: dict[str, Any], heal: Any) -> None:
    scrape = after_change(exp, time.time(), f"podman.{what}", figures)
    assert all_down(scrape), success(scrape)
    figures[f"faults.podman.{what}.while_down"] = probe_for(
        exp, 2.0, lambda s: None if all_down(s) else pytest.fail(f"not down: {success(s)}"))
    heal()
    healed = time.monotonic()
    # A restarted or thawed Podman first works off the requests that queued up while
    # it was down (a frozen one still runs every `info` it was sent, ~0.3 s each), so
    # recovery is measured, not required of the very first collection.
    scrape, _ = exp.wait_for(all_up, f"every collector succeeding after {what}", 15)
    figures[f"faults.podman.{what}.recovery_seconds"] = round(time.monotonic() - healed, 3)
    assert all_up(scrape), success(scrape)


def test_service_killed_then_started(podman: PodmanEnv, exp: Exporter,
                                     figures: dict[str, Any]) -> None:
    assert podman.service is not None
    os.killpg(podman.service.pid, signal.SIGKILL)
    podman.service.wait()
    podman.service = None
    _down_then_up(exp, "killed", figures, podman.start_service)


def test_service_restarted_between_collections(podman: PodmanEnv, exp: Exporter,
                                               figures: dict[str, Any]) -> None:
    podman.stop_service()
    podman.start_service()
    scrape = after_change(exp, time.time(), "podman.restarted", figures)
    assert all_up(scrape), success(scrape)


def test_service_hung(podman: PodmanEnv, exp: Exporter, figures: dict[str, Any]) -> None:
    assert podman.service is not None
    group = podman.service.pid
    os.killpg(group, signal.SIGSTOP)
    try:
        _down_then_up(exp, "sigstop", figures, lambda: os.killpg(group, signal.SIGCONT))
    finally:
        os.killpg(group, signal.SIGCONT)
