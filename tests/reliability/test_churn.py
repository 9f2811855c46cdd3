"""Soak with churn: containers created and removed every collection cycle.

After the churn stops, the number of series returns to the baseline (no leaked
series), and the exporter's RSS stays flat within 5 % (measured after a warm-up).
The short run churns for 20 s, the soak run for 10 minutes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from rel_procs import Exporter, Scrape, Simulator, exporter, up_is, value

RSS_GOAL = 0.05
BATCH = 10


def podman_series(scrape: Scrape) -> int:
    """Return the number of podman_* samples (the exporter's own process metrics aside)."""
    return sum(len(samples) for name, samples in scrape.items() if name.startswith("podman_"))


def next_scrape(exp: Exporter, after: Scrape) -> Scrape:
    """Return a scrape of a collection newer than the one in ``after``."""
    key = "podman_exporter_last_collection_timestamp_seconds"
    before = value(after, key) or 0.0
    scrape, _ = exp.wait_for(lambda s: (value(s, key) or 0.0) > before, "the next collection",
                             within=10)
    return scrape


def churn(sim: Simulator, exp: Exporter, seconds: float, warmup: float, *,
          figures: dict[str, Any], tag: str) -> None:
    """Churn BATCH containers per cycle for ``seconds``; check series and RSS."""
    baseline = next_scrape(exp, exp.scrape())
    base_series = podman_series(baseline)
    previous: list[str] = []
    started = time.monotonic()
    rss_start = 0
    cycles = 0
    peak_series = base_series
    while time.monotonic() - started < seconds:
        added = sim.call("AddContainers", count=BATCH, image=None)["ids"]
        if previous:
            sim.call("RemoveContainers", names=previous)
        previous = added
        scrape = next_scrape(exp, exp.scrape())
        peak_series = max(peak_series, podman_series(scrape))
        cycles += 1
        if not rss_start and time.monotonic() - started >= warmup:
            rss_start = exp.rss()
    rss_end = exp.rss()
    sim.call("RemoveContainers", names=previous)
    after = next_scrape(exp, next_scrape(exp, exp.scrape()))
    growth = (rss_end - rss_start) / rss_start
    figures[f"churn.{tag}"] = {
        "seconds": round(time.monotonic() - started), "cycles": cycles,
        "containers_created": cycles * BATCH, "series_baseline": base_series,
        "series_peak": peak_series, "series_after": podman_series(after),
        "rss_start_mb": round(rss_start / 1e6, 1), "rss_end_mb": round(rss_end / 1e6, 1),
        "rss_growth_percent": round(growth * 100, 2)}
    assert peak_series > base_series, "the churned containers never showed"
    assert podman_series(after) == base_series
    assert abs(growth) <= RSS_GOAL, figures[f"churn.{tag}"]


def _run(tmp_path: Path, seconds: float, warmup: float, figures: dict[str, Any],
         tag: str) -> None:
    sim = Simulator(tmp_path / "podman.sock", tmp_path / "sim.log",
                    ["--containers", "50", "--images", "10"])
    try:
        with exporter(sim.address, "varlink", tmp_path / "exporter.log") as exp:
            exp.wait_for(up_is(1), "podman_up 1")
            churn(sim, exp, seconds, warmup, figures=figures, tag=tag)
    finally:
        sim.stop()


@pytest.mark.timeout(120)
def test_churn_leaves_no_series_behind(tmp_path: Path, figures: dict[str, Any]) -> None:
    _run(tmp_path, 20, 8, figures, "short")


@pytest.mark.soak
@pytest.mark.timeout(1200)
def test_churn_soak(tmp_path: Path, figures: dict[str, Any]) -> None:
    _run(tmp_path, 600, 60, figures, "soak")
