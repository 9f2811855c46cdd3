"""``python -m bench [--quick]``: every figure of docs/performance.md in one run.

(a) /metrics latency at 10, 1,000 and 5,000 simulated containers, plain and gzip,
next to nginx serving the same bytes and a naive prometheus_client render per scrape;
(b) the collection cycle at 1,000 containers with 10 ms per call against
calls x latency / connections; (c) the exporter's RSS at 1,000 containers;
(cost) the exporter's own CPU per collection, idle CPU and RSS on a simulated REST
Podman and, when podman is installed, on a private real one (bench/cost.py).
Parts: scrape (a), cycle (b and c), cost. Exit code 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from bench import cost, cycle, scrape
from bench.report import Report

PARTS = ("scrape", "cycle", "cost")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; return 0 when every target is met, else 1."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and requests")
    parser.add_argument("--sizes", default="10,1000,5000", help="fleet sizes for (a)")
    parser.add_argument("--skip", default="",
                        help=f"comma list of parts to skip: {','.join(PARTS)}")
    parser.add_argument("--only", default="", help="comma list of the only parts to run")
    parser.add_argument("--no-real", action="store_true",
                        help="cost: the simulator only, no real Podman")
    parser.add_argument("--markdown", action="store_true", help="also print a markdown table")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    only = set(filter(None, args.only.split(",")))
    if not (skip | only) <= set(PARTS):
        parser.error(f"unknown part in --skip/--only: {sorted((skip | only) - set(PARTS))}")
    if only:
        skip |= set(PARTS) - only
    settings = scrape.ScrapeSettings(rounds=3, requests=100, budget=1.0) if args.quick \
        else scrape.ScrapeSettings()
    cycles = cycle.CycleSettings(cycles=3, collections=4) if args.quick \
        else cycle.CycleSettings()
    costs = cost.QUICK if args.quick else cost.CostSettings()
    if args.no_real:
        costs = dataclasses.replace(costs, real=False)
    print(f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
          f"Python {platform.python_version()}, {platform.platform()}", flush=True)
    report = Report()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="podman-exporter-bench-") as tmp:
        workdir = Path(tmp)
        if "scrape" not in skip:
            for size in (int(s) for s in args.sizes.split(",")):
                scrape.measure_size(workdir, size, settings, report)
        if "cycle" not in skip:
            cycle.measure(workdir, cycles, report)
        if "cost" not in skip:
            cost.measure(workdir, costs, report)
    return report.summary(started, args.markdown)


if __name__ == "__main__":
    sys.exit(main())
