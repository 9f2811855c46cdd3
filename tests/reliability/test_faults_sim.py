"""Podman faults on the simulated service: killed, restarted, hung, slow, erroring, dropping.

Each test runs the exporter as a subprocess (interval 1 s, timeout 500 ms) against a
simulator subprocess, breaks the simulator, and checks that /metrics answers 200 on
every probe, that the first collection started after the change shows it
(``podman_up``, per-collector success), that collections stay within the timeout
bounds, and that the exporter recovers without a restart.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rel_faults import (
    COLLECTION_BOUND,
    INTERVAL,
    after_change,
    all_down,
    all_up,
    probe_for,
)
from rel_procs import Exporter, Scrape, Simulator, exporter, success, value

pytestmark = pytest.mark.timeout(120)


@pytest.fixture()
def exp(simulator: Simulator, tmp_path: Path) -> Iterator[Exporter]:
    """Return an exporter watching the simulator, once Podman is up in it."""
    with exporter(simulator.address, "varlink", tmp_path / "exporter.log") as running:
        running.wait_for(all_up, "podman_up 1 and every collector succeeding")
        yield running


def _recover(exp: Exporter, what: str, figures: dict[str, Any]) -> None:
    """Assert the first collection after now has everything up again."""
    scrape = after_change(exp, time.time(), f"{what}.recovery", figures)
    assert all_up(scrape), success(scrape)


def _down_then_up(exp: Exporter, sim: Simulator, what: str, figures: dict[str, Any],
                  heal: Any) -> None:
    scrape = after_change(exp, time.time(), what, figures)
    assert all_down(scrape), success(scrape)
    figures[f"faults.{what}.while_down"] = probe_for(exp, 2.0, lambda s: None if all_down(s)
                                                     else pytest.fail(f"not down: {success(s)}"))
    heal()
    _recover(exp, what, figures)


def test_killed_then_restarted(simulator: Simulator, exp: Exporter,
                               figures: dict[str, Any]) -> None:
    simulator.kill()
    _down_then_up(exp, simulator, "killed", figures, simulator.start)


def test_restarted_between_collections(simulator: Simulator, exp: Exporter,
                                       figures: dict[str, Any]) -> None:
    """A restart between two collections leaves stale pooled connections behind: the
    first collection after it must still succeed."""
    exp.scrape()
    simulator.stop()
    simulator.start()
    scrape = after_change(exp, time.time(), "restarted", figures)
    assert all_up(scrape), success(scrape)


def test_hung_never_answers(simulator: Simulator, exp: Exporter,
                            figures: dict[str, Any]) -> None:
    simulator.set_faults(hang_rates={"*": 1.0})
    _down_then_up(exp, simulator, "hung", figures, simulator.clear_faults)


def test_stopped_process_accepts_but_never_answers(simulator: Simulator, exp: Exporter,
                                                   figures: dict[str, Any]) -> None:
    simulator.signal(signal.SIGSTOP)
    try:
        _down_then_up(exp, simulator, "sigstop", figures,
                      lambda: simulator.signal(signal.SIGCONT))
    finally:
        simulator.signal(signal.SIGCONT)


def test_slower_than_the_timeout(simulator: Simulator, exp: Exporter,
                                 figures: dict[str, Any]) -> None:
    simulator.set_faults(latency_ms=2000)
    _down_then_up(exp, simulator, "slow_2s", figures, simulator.clear_faults)


def test_slow_but_within_the_timeout_keeps_what_was_fetched(
        simulator: Simulator, exp: Exporter, figures: dict[str, Any]) -> None:
    simulator.set_faults(latency_ms=300)
    scrape = after_change(exp, time.time(), "slow_300ms", figures)
    states = success(scrape)
    assert value(scrape, "podman_up") == 1
    assert states["containers"] == states["images"] == states["host"] == 1, states
    assert len(scrape["podman_container_info"]) == 20
    # The stats budget may run out: whatever stats were fetched are served.
    if states["stats"] == 0:
        assert scrape.get("podman_container_cpu_seconds_total"), "partial stats were dropped"
    simulator.clear_faults()
    _recover(exp, "slow_300ms", figures)


def test_collections_never_overlap(simulator: Simulator, exp: Exporter,
                                   figures: dict[str, Any]) -> None:
    """A collection longer than the interval delays the next one: ListContainers is
    called at most once per collection, never once per interval."""
    simulator.set_faults(latency_ms=450)
    scrape = after_change(exp, time.time(), "overlap", figures)
    took = value(scrape, "podman_scrape_collector_duration_seconds", collector="containers")
    took_stats = value(scrape, "podman_scrape_collector_duration_seconds", collector="stats")
    assert took is not None and took_stats is not None
    assert took + took_stats > INTERVAL, "the collection must outlast the interval"
    method = "io.projectatomic.podman.ListContainers"
    before, started = simulator.calls().get(method, 0), time.monotonic()
    time.sleep(8)
    calls = simulator.calls().get(method, 0) - before
    window = time.monotonic() - started
    figures["faults.overlap"] = {"window_seconds": round(window, 1), "collections": calls,
                                 "collection_seconds": round(took + took_stats, 3)}
    assert calls <= window / (took + took_stats) + 1, calls
    simulator.clear_faults()


@pytest.mark.parametrize("kind", ["ErrorOccurred", "RuntimeError"])
def test_errors_for_some_calls(simulator: Simulator, exp: Exporter, figures: dict[str, Any],
                               kind: str) -> None:
    errors_before = value(exp.scrape(), "podman_exporter_collection_errors_total",
                          collector="images")
    simulator.set_faults(error_rates={"ListImages": 1.0}, error_kind=kind)
    scrape = after_change(exp, time.time(), f"error_{kind}", figures)
    assert value(scrape, "podman_up") == 1
    assert success(scrape) == {"containers": 1, "stats": 1, "sizes": 1, "images": 0, "host": 1}
    errors = value(scrape, "podman_exporter_collection_errors_total", collector="images")
    assert errors is not None and errors_before is not None and errors > errors_before
    assert len(scrape["podman_container_info"]) == 20
    simulator.clear_faults()
    _recover(exp, f"error_{kind}", figures)


def test_connection_dropped_mid_reply(simulator: Simulator, exp: Exporter,
                                      figures: dict[str, Any]) -> None:
    simulator.set_faults(drop_rates={"ListContainers": 1.0})
    scrape = after_change(exp, time.time(), "drop", figures)
    assert value(scrape, "podman_up") == 1
    assert success(scrape) == {"containers": 0, "stats": 0, "sizes": 1, "images": 1, "host": 1}
    simulator.clear_faults()
    _recover(exp, "drop", figures)


def test_random_faults_never_break_the_endpoint(simulator: Simulator, exp: Exporter,
                                                figures: dict[str, Any]) -> None:
    """A mix of errors, drops, hangs and malformed records on every method: every
    probe answers 200 with a parseable exposition, bad records are counted."""
    simulator.set_faults(error_rates={"*": 0.1}, drop_rates={"*": 0.1}, hang_rates={"*": 0.02},
                         malformed_rate=0.2, jitter_ms=200)

    def sane(scrape: Scrape) -> None:
        assert value(scrape, "podman_up") in (0, 1)

    figures["faults.random_mix"] = probe_for(exp, 8.0, sane)
    scrape = exp.scrape()
    bad = sum(s.value for s in scrape["podman_exporter_bad_records_total"])
    assert bad > 0, "malformed records were not counted"
    figures["faults.random_mix"]["bad_records"] = bad
    simulator.clear_faults()
    _recover(exp, "random_mix", figures)
    assert figures["faults.random_mix"]["longest_collection_seconds"] <= COLLECTION_BOUND
