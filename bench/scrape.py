"""(a) /metrics latency: the exporter next to nginx (same bytes) and the naive render.

For each fleet size one simulator, one exporter, one nginx and one naive reference run
in their own processes. Rounds alternate the servers so that noise on the shared
machine hits all of them; each figure is the median over rounds of one round's p50
(or p99).
"""

from __future__ import annotations

import contextlib
import statistics
from dataclasses import dataclass
from pathlib import Path

from bench import procs
from bench.client import GZIP, PLAIN, Target, fetch, percentile, sample
from bench.report import Check, Report
from podman_exporter.exposition.body import TEXT_CONTENT_TYPE

NGINX_TARGET = 1.5
NAIVE_TARGET = 20.0
NAIVE_TARGET_AT = 1000


@dataclass(frozen=True, slots=True)
class ScrapeSettings:
    """How much to measure per fleet size."""

    rounds: int = 5
    requests: int = 200
    """Requests per round to the exporter and to nginx."""
    budget: float = 2.0
    """Seconds one measurement may take (the naive render at 5,000 containers is slow)."""


@dataclass
class Latencies:
    """Per-round p50 and p99 of one server and encoding."""

    p50: list[float]
    p99: list[float]

    def add(self, times: list[float]) -> None:
        """Record one round's latencies."""
        self.p50.append(percentile(times, 0.50))
        self.p99.append(percentile(times, 0.99))

    def median_p50(self) -> float:
        """Return the median over rounds of p50, in seconds."""
        return statistics.median(self.p50)

    def median_p99(self) -> float:
        """Return the median over rounds of p99, in seconds."""
        return statistics.median(self.p99)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def measure_size(workdir: Path, containers: int, settings: ScrapeSettings,
                 report: Report) -> None:
    """Measure scrapes at one fleet size and add the figures to ``report``."""
    with contextlib.ExitStack() as stack:
        address = stack.enter_context(procs.simulator(workdir, containers, "0s"))
        port, _ = stack.enter_context(procs.exporter(workdir, address))
        targets = {
            ("exporter", "plain"): Target("exporter", port, "/metrics", PLAIN),
            ("exporter", "gzip"): Target("exporter", port, "/metrics", GZIP, "gzip"),
        }
        plain, gzipped = fetch(targets["exporter", "plain"]), fetch(targets["exporter", "gzip"])
        nginx_dir = workdir / f"nginx-{containers}"
        nginx_dir.mkdir()
        nginx = stack.enter_context(procs.nginx(nginx_dir, plain, gzipped, TEXT_CONTENT_TYPE))
        naive = stack.enter_context(procs.naive(workdir, address))
        targets |= {
            ("nginx", "plain"): Target("nginx", nginx, "/metrics", PLAIN),
            ("nginx", "gzip"): Target("nginx", nginx, "/gz/metrics", GZIP, "gzip"),
            ("naive", "plain"): Target("naive", naive, "/metrics", PLAIN),
            ("naive", "gzip"): Target("naive", naive, "/metrics", GZIP, "gzip"),
        }
        naive_size = len(fetch(targets["naive", "plain"]))
        print(f"\n-- {containers} containers: exporter body {len(plain):,} B plain, "
              f"{len(gzipped):,} B gzip; naive body {naive_size:,} B", flush=True)
        results = {key: Latencies([], []) for key in targets}
        for r in range(settings.rounds):
            for encoding in ("plain", "gzip"):
                pair = ["exporter", "nginx"] if r % 2 == 0 else ["nginx", "exporter"]
                for server in [*pair, "naive"]:
                    count = settings.requests if server != "naive" else settings.requests // 4
                    times = sample(targets[server, encoding], count, settings.budget,
                                   warmup=3 if server != "naive" else 1)
                    results[server, encoding].add(times)
        for (server, encoding), lat in results.items():
            print(f"   {server:9} {encoding:6} p50 {_ms(lat.median_p50()):>12}  "
                  f"p99 {_ms(lat.median_p99()):>12}  ({len(lat.p50)} rounds)")
        for encoding in ("plain", "gzip"):
            exp, ngx, nai = (results[s, encoding] for s in ("exporter", "nginx", "naive"))
            ratio = exp.median_p50() / ngx.median_p50()
            report.add(Check(f"{containers} containers {encoding}: exporter p50 / nginx p50",
                             f"{_ms(exp.median_p50())} / {_ms(ngx.median_p50())} = {ratio:.2f}x",
                             f"<= {NGINX_TARGET}x", ratio <= NGINX_TARGET))
            report.add(Check(f"{containers} containers {encoding}: exporter p99 / nginx p99",
                             f"{_ms(exp.median_p99())} / {_ms(ngx.median_p99())}"
                             f" = {exp.median_p99() / ngx.median_p99():.2f}x", "(reported)"))
            speedup = nai.median_p50() / exp.median_p50()
            held = containers == NAIVE_TARGET_AT
            report.add(Check(f"{containers} containers {encoding}: naive p50 / exporter p50",
                             f"{_ms(nai.median_p50())} -> {speedup:.0f}x faster",
                             f">= {NAIVE_TARGET:.0f}x" if held else "(reported)",
                             speedup >= NAIVE_TARGET if held else None))
