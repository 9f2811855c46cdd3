"""(b) collection-cycle time against calls x latency / connections, and (c) exporter RSS.

The cycle is ``CollectionLoop.collect_once()`` run in this process against a simulator
in another process that delays every Podman call; the calls per cycle are counted by
the simulator itself. The cycle held to the target is the Podman part (collect_once
minus the publish step, which renders the exposition); the render and the whole
collect_once are reported next to it. RSS is VmRSS of an exporter process after
several collections of the same fleet.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import varlink

from bench import procs
from bench.client import PLAIN, Target, fetch
from bench.report import Check, Report
from podman_exporter.collect.collectors import COLLECTORS
from podman_exporter.collect.loop import CollectionLoop
from podman_exporter.exposition.render import ExpositionCache
from podman_exporter.metrics.options import MetricOptions
from podman_exporter.podman.interface import ERROR_PREFIX
from podman_exporter.podman.varlink_client import VarlinkBackend
from podman_exporter.snapshot.snapshot import Snapshot

CYCLE_TARGET = 1.3
RSS_TARGET_MB = 60.0
CONTROL = "io.podman-exporter.simulator"


@dataclass(frozen=True, slots=True)
class CycleSettings:
    """The fleet and the pool of the cycle and RSS measurements."""

    containers: int = 1000
    latency: float = 0.010
    connections: int = 16
    cycles: int = 5
    collections: int = 6
    """Collections the exporter runs (1 s apart) before its RSS is read."""


def podman_calls(address: str) -> int:
    """Return the io.projectatomic.podman calls the simulator has served so far."""
    with varlink.Client(address=address) as client, client.open(CONTROL) as control:
        summary: dict[str, Any] = control.GetSummary()["summary"]
    return sum(n for method, n in summary["calls"].items() if method.startswith(ERROR_PREFIX))


def vm_rss_mb(pid: int) -> float:
    """Return VmRSS of process ``pid`` in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no VmRSS in /proc/{pid}/status")
    return int(match.group(1)) / 1024


@contextmanager
def _loop(address: str, connections: int,
          render_times: list[float]) -> Iterator[CollectionLoop]:
    backend = VarlinkBackend(address, connections=connections, timeout=5.0, stats_budget=10.0)
    cache = ExpositionCache(MetricOptions())

    def publish(snapshot: Snapshot) -> None:
        start = time.perf_counter()
        cache.publish(snapshot)
        render_times.append(time.perf_counter() - start)

    loop = CollectionLoop(backend=lambda: backend, collectors=COLLECTORS, interval=15.0,
                          max_age=60.0, publish=publish)
    try:
        yield loop
    finally:
        loop.stop()
        backend.close()


def _collector_seconds(body: bytes) -> dict[str, float]:
    pattern = rb'^podman_scrape_collector_duration_seconds\{collector="(\w+)"\} (\S+)$'
    return {m[0].decode(): float(m[1]) for m in re.findall(pattern, body, re.MULTILINE)}


def measure(workdir: Path, settings: CycleSettings, report: Report) -> None:
    """Measure the cycle and the RSS; add the figures to ``report``."""
    s = settings
    latency = f"{s.latency * 1e3:g}ms"
    with procs.simulator(workdir, s.containers, latency) as address:
        render_times: list[float] = []
        with _loop(address, s.connections, render_times) as loop:
            loop.collect_once()  # warm up: connections opened, interface parsed
            calls0 = podman_calls(address)
            cycles = []
            render_times.clear()
            for _ in range(s.cycles):
                start = time.perf_counter()
                snapshot = loop.collect_once()
                cycles.append(time.perf_counter() - start)
                if not all(c.success for c in snapshot.collectors):
                    raise RuntimeError(f"collection failed: {snapshot.collectors}")
            calls = (podman_calls(address) - calls0) / s.cycles
        ideal = calls * s.latency / s.connections
        total = statistics.median(cycles)
        fetch_only = statistics.median(c - r for c, r in zip(cycles, render_times, strict=True))
        render = statistics.median(render_times)
        print(f"\n-- cycle: {s.containers} containers, {latency} per call, {s.connections} "
              f"connections, {calls:.0f} calls per cycle; cycles (s): "
              + " ".join(f"{c:.3f}" for c in cycles), flush=True)
        report.add(Check(f"cycle at {s.containers} containers: Podman calls / ideal",
                         f"{fetch_only:.3f} s / {ideal:.3f} s = {fetch_only / ideal:.2f}x",
                         f"<= {CYCLE_TARGET}x", fetch_only / ideal <= CYCLE_TARGET))
        report.add(Check("  render of both formats + gzip (publish)", f"{render:.3f} s",
                         "(reported)"))
        report.add(Check("  whole collect_once (calls + render) / ideal",
                         f"{total:.3f} s / {ideal:.3f} s = {total / ideal:.2f}x", "(reported)"))
        with procs.exporter(workdir, address, connections=s.connections,
                            interval="1s") as (port, pid):
            time.sleep(s.collections)
            rss = vm_rss_mb(pid)
            seconds = _collector_seconds(fetch(Target("exporter", port, "/metrics", PLAIN)))
        fetched = seconds.get("containers", 0.0) + seconds.get("stats", 0.0)
        report.add(Check("  exporter's own containers + stats collector seconds / ideal",
                         f"{fetched:.3f} s / {ideal:.3f} s = {fetched / ideal:.2f}x",
                         "(cross-check)"))
        report.add(Check(f"exporter RSS at {s.containers} containers after "
                         f"{s.collections} collections", f"{rss:.1f} MiB",
                         f"<= {RSS_TARGET_MB:.0f} MB", rss <= RSS_TARGET_MB))
