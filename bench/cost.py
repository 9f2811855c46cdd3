"""(d) What the exporter itself costs: CPU per collection, idle CPU, memory.

On the simulated REST Podman (bench/restsim.py: recorded Podman 4.3.1 replies, every
container running) and, when podman and runc are installed, on a private real Podman
(tests/e2e/podman_env.py; bench/sizes.py's fleet builder and CPU readers), for each
fleet size, each exporter in its own process:

- idle: the exporter (``--collect.interval 300s``) after its first collection, no
  scrapes; its CPU per second over ``idle_seconds``;
- collecting: the exporter at ``--collect.interval 1s``, scraped once per collection
  as Prometheus scrapes (one keep-alive connection, OpenMetrics, gzip) half a second
  after it; its CPU per collection = (CPU over the window - idle CPU/s x window) /
  collections in the window. The cost of one collection at the default 15 s interval
  is that plus 15 s of idle CPU.

CPU per collection is utime+stime of ``/proc/PID/stat`` (10 ms ticks; it keeps the
time of threads that ended: the exporter arranges its bodies and runs refreshes in
threads that end); the run time of the threads alive at the end
(``/proc/PID/task/*/schedstat``, ns) is printed beside it. Idle CPU is the latter (no
thread ends while idle, and ticks are too coarse for it). Slow collectors (sizes, host
info: 5 min schedules) run at start, not in the window. On real Podman the Podman
service's CPU per collection is held against the CPU of the bare calls a collection
cannot do without, timed in the same run: the container list and the bulk stats of the
running containers. The service's own idle CPU/s (no exporter) is taken off; what it
spends beyond that while the exporter only waits (serving the exporter's event stream)
is reported apart, per second and per 15 s.

Run alone: ``python -m bench --only cost`` or ``python -m bench.cost [--quick]``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gzip
import http.client
import re
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING

from bench import procs
from bench.cycle import vm_rss_mb
from bench.report import Check, Report

if TYPE_CHECKING:
    from podman_env import PodmanEnv

PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
LAST_COLLECTION = re.compile(rb"^podman_exporter_last_collection_timestamp_seconds(?:\{[^}]*\})? "
                             rb"(\S+)$",
                             re.MULTILINE)
DEFAULT_INTERVAL = 15.0
TARGET_PER_COLLECTION_MS = 25.0
TARGET_IDLE_MS = 0.5
TARGET_PER_CONTAINER_US = 100.0
TARGET_RSS_MIB = 35.0
TARGET_PODMAN_RATIO = 1.2
TODAY = {"collection": "90 ms", "idle": "2.1-2.5 ms/s", "container": "render alone 220 us",
         "rss": "39 MiB"}
"""Before this work: real Podman 4.3, 100 running containers; render from python -m bench."""


@dataclass(frozen=True, slots=True)
class CostSettings:
    """Fleet sizes and measuring windows."""

    small: int = 100
    large: int = 1000
    idle_seconds: float = 30.0
    collect_seconds: float = 20.0
    real: bool = True
    real_running: int = 100
    """Running containers of the real fleets (the rest of the large one is created only)."""
    bare_reps: int = 5


@dataclass
class Cost:
    """What one exporter cost on one fleet."""

    idle_ms_s: float
    collection_ms: float
    collections: int
    rss_mib: float
    live_ms: float
    """The same per-collection CPU from the schedstat of the threads alive at the end."""
    podman_base_ms_s: float = 0.0
    """The service's CPU per second with no exporter."""
    podman_waiting_ms_s: float = 0.0
    """The service's CPU per second while the exporter waits between collections."""
    podman_collection_ms: float = 0.0
    """The service's CPU per collection, its CPU while waiting taken off."""


def _cpu(pid: int) -> tuple[float, float]:
    """Return (schedstat seconds, tick seconds) process ``pid`` has used."""
    from bench.sizes import service_cpu  # imports tests/e2e's helpers

    cpu = service_cpu(pid)
    return cpu.run, cpu.ticks


def _service_cpu(pid: int | None) -> float:
    """Return the seconds of CPU the Podman service ``pid`` used (0 without one)."""
    return _cpu(pid)[0] if pid is not None else 0.0


class Scraper:
    """Scrapes as Prometheus does: one keep-alive connection, OpenMetrics, gzip."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def last_collection(self) -> float:
        """Scrape once; return the exposition's last collection time."""
        self.conn.request("GET", "/metrics", headers={"Accept": PROMETHEUS_ACCEPT,
                                                     "Accept-Encoding": "gzip"})
        response = self.conn.getresponse()
        body = gzip.decompress(response.read())
        found = LAST_COLLECTION.search(body)
        if response.status != 200 or found is None:
            raise RuntimeError(f"scrape: HTTP {response.status}, no last collection time")
        return float(found.group(1))


@contextlib.contextmanager
def _exporter(workdir: Path, url: str, interval: str) -> Iterator[tuple[int, int]]:
    with procs.exporter(workdir, url, api="rest", connections=8, interval=interval) as found:
        yield found


def idle(workdir: Path, url: str, seconds: float,
         service: int | None) -> tuple[float, float]:
    """Return the exporter's and the service's (if any) CPU per second, in ms, while the
    exporter waits for its next collection."""
    with _exporter(workdir, url, "300s") as (port, pid):
        Scraper(port).last_collection()
        time.sleep(3)  # the first collection's threads settle
        c0, s0, t0 = _cpu(pid)[0], _service_cpu(service), time.monotonic()
        time.sleep(seconds)
        c1, s1, t1 = _cpu(pid)[0], _service_cpu(service), time.monotonic()
    return (c1 - c0) / (t1 - t0) * 1e3, (s1 - s0) / (t1 - t0) * 1e3


def collecting(workdir: Path, url: str, settings: CostSettings, idle_ms_s: float, *,
               service: int | None = None, podman: tuple[float, float] = (0.0, 0.0)) -> Cost:
    """Return the cost of collections at a 1 s interval (see the module); ``podman``:
    the service's CPU per second with no exporter and while the exporter waits."""
    with _exporter(workdir, url, "1s") as (port, pid):
        scraper = Scraper(port)
        seen = scraper.last_collection()
        for _ in range(3):  # warm up: connections, caches, the gzip form remembered
            seen = _next(scraper, seen)
        first = seen
        (c0, k0), s0, t0 = _cpu(pid), _service_cpu(service), time.monotonic()
        while time.monotonic() - t0 < settings.collect_seconds:
            seen = _next(scraper, seen)
        (c1, k1), s1, t1 = _cpu(pid), _service_cpu(service), time.monotonic()
        rss = vm_rss_mb(pid)
    count = round(seen - first)
    window = t1 - t0

    def per(total: float, idle_rate: float) -> float:
        return (total * 1e3 - idle_rate * window) / count

    base, waiting = podman
    return Cost(idle_ms_s, per(k1 - k0, idle_ms_s), count, rss, per(c1 - c0, idle_ms_s),
                base, waiting, per(s1 - s0, waiting) if service else 0.0)


def _next(scraper: Scraper, seen: float) -> float:
    """Scrape half a second after the collection that follows ``seen``; return its time."""
    time.sleep(max(0.0, seen + 1.5 - time.time()))
    now = scraper.last_collection()
    while now == seen:  # late: a loaded machine
        time.sleep(0.1)
        now = scraper.last_collection()
    return now


def measure_fleet(workdir: Path, url: str, settings: CostSettings,
                  service: int | None = None) -> Cost:
    """Return the idle and collecting cost of the exporter on the Podman at ``url``."""
    base = 0.0
    if service is not None:  # the service alone
        s0, t0 = _service_cpu(service), time.monotonic()
        time.sleep(settings.idle_seconds / 2)
        base = (_service_cpu(service) - s0) / (time.monotonic() - t0) * 1e3
    idle_ms_s, waiting = idle(workdir, url, settings.idle_seconds, service)
    return collecting(workdir, url, settings, idle_ms_s, service=service,
                      podman=(base, waiting))


def _ratio(value: float, target: float) -> str:
    return f"{value / target:.2f}x target"


def report_costs(report: Report, where: str, small: Cost, large: Cost | None,
                 sizes: tuple[int, int]) -> None:
    """Add the figures of one Podman to ``report``."""
    n_small, n_large = sizes
    per15 = small.collection_ms + DEFAULT_INTERVAL * small.idle_ms_s
    print(f"   {where}: {small.collections} collections at {n_small}: "
          f"{small.collection_ms:.1f} ms each (live threads {small.live_ms:.1f} ms), idle "
          f"{small.idle_ms_s:.3f} ms/s", flush=True)
    report.add(Check(f"{where}: CPU per 15 s collection at {n_small} (+15 s idle)",
                     f"{per15:.1f} ms ({_ratio(per15, TARGET_PER_COLLECTION_MS)}; "
                     f"today {TODAY['collection']})",
                     f"<= {TARGET_PER_COLLECTION_MS:g} ms", per15 <= TARGET_PER_COLLECTION_MS))
    report.add(Check(f"{where}: idle CPU per second at {n_small}",
                     f"{small.idle_ms_s:.3f} ms ({_ratio(small.idle_ms_s, TARGET_IDLE_MS)}; "
                     f"today {TODAY['idle']})",
                     f"<= {TARGET_IDLE_MS:g} ms/s", small.idle_ms_s <= TARGET_IDLE_MS))
    if large is not None:
        per = large.collection_ms * 1e3 / n_large
        print(f"   {where}: {large.collections} collections at {n_large}: "
              f"{large.collection_ms:.1f} ms each (live threads {large.live_ms:.1f} ms), idle "
              f"{large.idle_ms_s:.3f} ms/s, RSS {large.rss_mib:.1f} MiB", flush=True)
        report.add(Check(f"{where}: CPU per container per collection at {n_large}",
                         f"{per:.0f} us ({_ratio(per, TARGET_PER_CONTAINER_US)}; "
                         f"today {TODAY['container']})",
                         f"<= {TARGET_PER_CONTAINER_US:g} us", per <= TARGET_PER_CONTAINER_US))
    report.add(Check(f"{where}: RSS at {n_small} containers",
                     f"{small.rss_mib:.1f} MiB ({_ratio(small.rss_mib, TARGET_RSS_MIB)}; "
                     f"today {TODAY['rss']})",
                     f"<= {TARGET_RSS_MIB:g} MiB", small.rss_mib <= TARGET_RSS_MIB))


def measure_sim(workdir: Path, settings: CostSettings, report: Report) -> None:
    """Measure on the simulated REST Podman; add the figures to ``report``."""
    costs = []
    for size in (settings.small, settings.large):
        with procs.rest_simulator(workdir, size) as url:
            costs.append(measure_fleet(workdir, url, settings))
    print("\n-- cost: simulated REST Podman", flush=True)
    report_costs(report, "sim", costs[0], costs[1], (settings.small, settings.large))


def real_podman_available() -> bool:
    """Return whether a private real Podman can be started here."""
    return all(shutil.which(tool) for tool in ("podman", "runc")) and \
        (Path("/bin/busybox").exists() or shutil.which("busybox") is not None)


OTHER_CALLS = ("/images/json?all=true", "/pods/json", "/volumes/json", "/networks/json")
"""The other calls of a main collection (host info has its own slow schedule)."""


def bare_calls(env: PodmanEnv, reps: int) -> tuple[float, float, float]:
    """Return the service's median CPU (ms) of the bare container list, of the bare bulk
    stats of the running containers and of the other calls of a collection, each on one
    keep-alive connection."""
    import json

    from bench.sizes import PLAIN, Caller, Samples

    caller = Caller(env)
    running = [c["Id"] for c in json.loads(caller.get(PLAIN)) if c.get("State") == "running"]
    stats = "/containers/stats?stream=false&" + "&".join(f"containers={i}" for i in running)
    listing, bulk, others = Samples(), Samples(), [Samples() for _ in OTHER_CALLS]
    caller.get(stats)  # warm up
    for _ in range(reps):
        caller.timed(PLAIN, listing)
        caller.timed(stats, bulk)
        for path, samples in zip(OTHER_CALLS, others, strict=True):
            caller.timed(path, samples)
    caller.conn.close()
    return (statistics.median(listing.cpu) * 1e3, statistics.median(bulk.cpu) * 1e3,
            sum(statistics.median(o.cpu) for o in others) * 1e3)


def measure_real(workdir: Path, settings: CostSettings, report: Report) -> None:
    """Measure on a private real Podman; add the figures to ``report``."""
    # isort: off
    from bench.sizes import build_fleet  # puts tests/e2e on the import path
    from podman_env import private_podman
    # isort: on

    costs: list[Cost] = []
    bare: list[tuple[float, float, float]] = []
    sizes = (settings.small, settings.large)
    with private_podman("pe-bench-cost-") as env:
        assert env.service is not None
        have = 0
        for size in sizes:
            print(f"\n-- cost: real Podman, {size} containers "
                  f"({min(size, settings.real_running)} running)", flush=True)
            have = build_fleet(env, size, running=min(size, settings.real_running), writers=0,
                               workers=8, have=have)
            costs.append(measure_fleet(workdir, env.url, settings, env.service.pid))
            bare.append(bare_calls(env, settings.bare_reps))
        print("\ncleaning up ...", flush=True)
    print("\n-- cost: real Podman", flush=True)
    report_costs(report, "real Podman", costs[0], costs[1], sizes)
    for size, cost, (listing, stats, others) in zip(sizes, costs, bare, strict=True):
        ratio = cost.podman_collection_ms / (listing + stats)
        report.add(Check(f"real Podman: service CPU per collection at {size} / bare list + "
                         "stats", f"{cost.podman_collection_ms:.1f} ms / "
                         f"{listing + stats:.1f} ms = {ratio:.2f}x",
                         f"<= {TARGET_PODMAN_RATIO}x", ratio <= TARGET_PODMAN_RATIO))
        stream = cost.podman_waiting_ms_s - cost.podman_base_ms_s
        per15 = cost.podman_collection_ms + DEFAULT_INTERVAL * stream
        report.add(Check("  bare list; bare stats; images, pods, volumes, networks",
                         f"{listing:.1f}; {stats:.1f}; {others:.1f} ms", "(reported)"))
        report.add(Check("  service idle; more while the exporter waits",
                         f"{cost.podman_base_ms_s:.2f}; {stream:+.2f} ms/s", "(reported)"))
        report.add(Check("  service CPU per 15 s (collection + 15 s waiting) / bare",
                         f"{per15:.1f} ms = {per15 / (listing + stats):.2f}x", "(reported)"))


def measure(workdir: Path, settings: CostSettings, report: Report) -> None:
    """Measure everything this module describes; add the figures to ``report``."""
    measure_sim(workdir, settings, report)
    if settings.real and real_podman_available():
        measure_real(workdir, settings, report)
    elif settings.real:
        print("\n-- cost: no podman/runc/busybox here: real Podman skipped", flush=True)


QUICK = CostSettings(idle_seconds=15.0, collect_seconds=10.0, bare_reps=3)


def main(argv: list[str] | None = None) -> int:
    """Run the cost benchmark alone; return 1 when a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench.cost",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter windows")
    parser.add_argument("--no-real", action="store_true", help="simulator only")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else CostSettings()
    if args.no_real:
        settings = dataclasses.replace(settings, real=False)
    report = Report()
    with TemporaryDirectory(prefix="podman-exporter-cost-") as tmp:
        measure(Path(tmp), settings, report)
    print()
    for check in report.checks:
        print(check.line())
    return 1 if report.misses() else 0


if __name__ == "__main__":
    sys.exit(main())
