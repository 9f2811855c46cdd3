"""One exporter watching many Podmans: collection cycle, scrape latency and memory.

N simulated REST Podmans (bench/restsim.py, C containers each, every one in its own
process) run throughout. Exporters (bench/timed.py: the exporter with each collection
timed from its start until its publish returned, and each arrangement of the served
bodies timed; REST, default 8 connections per endpoint, ``--collect.interval``) are run
one after the other, in one run:

- alone: one exporter per endpoint for a few endpoints (the first, middle and last),
  each watching that endpoint only: the endpoint's cycle is the median of its timed
  full collections after the first ``SKIPPED`` (the first also runs the slow host and
  sizes collectors and opens the connections; with N endpoints the second one of the
  first endpoints comes right after the last endpoints' first ones, and meets the first
  full garbage collection after start-up); the slowest of them is the baseline;
- together: one exporter watching all N: every endpoint's cycle the same way; target:
  the slowest endpoint's cycle <= 1.3x the baseline. Reported beside it: the time until
  the end of the first arrangement of the served bodies that began after the publish
  had ended (done in the background, so a scrape finds them ready), and the
  arrangements: how many per interval, how long (with the formats asked for lately
  joined: none here, as nothing scrapes in the window).

Nothing scrapes while collections are timed (so no gzip form is compressed at publish).

The exporter's and the simulators' CPU over the timed collections are reported per
interval: utime+stime of ``/proc/PID/stat`` (bench.timed.stat_cpu; it keeps the time
of the threads that ended: the exporter arranges its bodies in such threads).

/metrics latency is measured as bench/scrape.py does (one keep-alive connection,
rounds alternating who goes first, median over rounds of each round's p50 and p99)
against nginx serving the exporter's own bytes, plain and gzip, for the first lone
exporter and for the N-endpoint one, with the rounds spread over one collection
interval (collections included, as Prometheus scrapes at any phase); the p99 over
every request pooled is reported too. Target: the N-endpoint exporter/nginx p50 ratio
<= 1.1x the one-endpoint ratio. RSS (VmRSS) of both after their measurements is
reported.

Run: ``python -m bench.endpoints [--endpoints 50] [--containers 100] [--quick]``.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from tempfile import TemporaryDirectory

from bench import procs, timed
from bench.client import GZIP, PLAIN, Target, fetch, percentile, sample
from bench.cycle import vm_rss_mb
from bench.report import Check, Report
from bench.scrape import Latencies, ScrapeSettings
from podman_exporter.exposition.body import TEXT_CONTENT_TYPE
from podman_exporter.podman.rest_http import socket_path

CYCLE_TARGET = 1.3
DURATION = re.compile(rb"^podman_scrape_collector_duration_seconds\{([^}]*)\} (\S+)$", re.MULTILINE)
SCRAPE_TARGET = 1.1
SKIPPED = 2
"""Full collections of each endpoint left out before the timed ones (start-up)."""
"""N-endpoint exporter/nginx p50 ratio, relative to the one-endpoint ratio."""


@dataclass(frozen=True, slots=True)
class EndpointSettings:
    """The fleet of endpoints and the measuring windows."""

    endpoints: int = 50
    containers: int = 100
    interval: float = 15.0
    collections: int = 8
    """Timed full collections per endpoint, after the first ``SKIPPED``."""
    baselines: int = 3
    """Endpoints measured alone."""
    scrape: ScrapeSettings = field(default_factory=ScrapeSettings)


QUICK = EndpointSettings(interval=5.0, collections=3, baselines=2,
                         scrape=ScrapeSettings(rounds=3, requests=100))


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A simulated Podman: its endpoint name, URL and process id."""

    name: str
    url: str
    pid: int


def _pid_serving(sock: str) -> int:
    """Return the process id of the simulator listening on ``sock``."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            argv = cmdline.read_bytes().split(b"\0")
            if b"bench.restsim" in argv and sock.encode() in argv:
                return int(cmdline.parent.name)
    raise RuntimeError(f"no simulator process serves {sock}")


def start_simulators(stack: contextlib.ExitStack, workdir: Path, count: int,
                     containers: int) -> list[Endpoint]:
    """Start ``count`` simulators (bench.procs.rest_simulator) 8 at a time; stop them with
    ``stack``."""
    managers = []
    for i in range(count):
        (workdir / f"ep{i:02d}").mkdir()
        managers.append(procs.rest_simulator(workdir / f"ep{i:02d}", containers))
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(m.__enter__) for m in managers]
    endpoints, error = [], None
    for i, (manager, future) in enumerate(zip(managers, futures, strict=True)):
        try:
            url = future.result()
        except Exception as exc:  # stop those that started, report the first failure
            error = error or exc
            continue
        stack.push(manager.__exit__)
        endpoints.append(Endpoint(f"ep{i:02d}", url, _pid_serving(socket_path(url))))
    if error is not None:
        raise error
    return endpoints


@dataclass
class Collected:
    """The timed full collections of every endpoint of one exporter, and the CPU spent."""

    cycles: dict[str, list[timed.Cycle]]
    window: float
    exporter_cpu: float
    simulators_cpu: float
    rounds: int
    exported: dict[str, float] = field(default_factory=dict)
    """Containers + stats collector seconds of each endpoint's last timed collection, as
    the exporter exports them."""
    joins: list[timed.Join] = field(default_factory=list)
    """The joins from the start of the first timed collection to the end of the window."""
    served: dict[str, list[float]] = field(default_factory=dict)
    """Per endpoint: seconds from each timed collection's start until the end of the
    first join after its publish (bench.timed.served)."""
    collections: list[float] = field(default_factory=list)
    """Seconds of each full garbage collection in the same window as ``joins``."""

    def cycle(self, name: str) -> float:
        """Return an endpoint's cycle: the median of its timed collections (seconds)."""
        return statistics.median(c.seconds for c in self.cycles[name])

    def part(self, name: str, get: Callable[[timed.Cycle], float]) -> float:
        """Return the median of one part of an endpoint's timed collections."""
        return statistics.median(get(c) for c in self.cycles[name])

    def slowest(self) -> str:
        """Return the endpoint with the longest cycle."""
        return max(self.cycles, key=self.cycle)


def _full(exporter: timed.Timed, names: list[str]) -> dict[str, list[timed.Cycle]]:
    found: dict[str, list[timed.Cycle]] = {n: [] for n in names}
    for c in exporter.cycles():
        if c.full and c.endpoint in found:
            found[c.endpoint].append(c)
    return found


def _until(exporter: timed.Timed, names: list[str], count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while min(len(v) for v in _full(exporter, names).values()) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {count} collections per endpoint after "
                               f"{timeout:.0f} s: see {exporter.log}")
        time.sleep(0.2)


def _cpu(pid: int) -> float:
    return timed.stat_cpu(pid)


def collect(exporter: timed.Timed, endpoints: list[Endpoint],
            settings: EndpointSettings) -> Collected:
    """Wait for every endpoint's first collection, then time the next ``collections``."""
    names = [e.name for e in endpoints]
    sims = [e.pid for e in endpoints]
    timeout = (settings.collections + 3) * settings.interval + 120
    _until(exporter, names, SKIPPED, timeout)
    c0, s0, t0 = _cpu(exporter.pid), sum(map(_cpu, sims)), time.monotonic()
    _until(exporter, names, SKIPPED + settings.collections, timeout)
    c1, s1, t1 = _cpu(exporter.pid), sum(map(_cpu, sims)), time.monotonic()
    cycles = {n: v[SKIPPED:SKIPPED + settings.collections]
              for n, v in _full(exporter, names).items()}
    time.sleep(1.0)  # the last publications' joins end
    first = min(c.start for v in cycles.values() for c in v)
    joins = [j for j in exporter.joins() if j.start >= first]
    served = {n: [x for c in v if (x := timed.served(c, joins)) is not None]
              for n, v in cycles.items()}
    gcs = [seconds for start, seconds in exporter.garbage_collections() if start >= first]
    body = fetch(Target("exporter", exporter.port, "/metrics", PLAIN))
    return Collected(cycles, t1 - t0, c1 - c0, s1 - s0, settings.collections,
                     exported_seconds(body), joins, served, gcs)


def exported_seconds(body: bytes) -> dict[str, float]:
    """Return each endpoint's exported containers + stats collector seconds."""
    found: dict[str, float] = {}
    for labels, value in DURATION.findall(body):
        named = dict(re.findall(rb'(\w+)="([^"]*)"', labels))
        if named.get(b"collector") in (b"containers", b"stats"):
            endpoint = named.get(b"endpoint", b"").decode()
            found[endpoint] = found.get(endpoint, 0.0) + float(value)
    return found


@dataclass
class Scraped:
    """Latencies of one server and encoding: per round (as bench/scrape.py) and pooled."""

    rounds: Latencies = field(default_factory=lambda: Latencies([], []))
    pooled: list[float] = field(default_factory=list)


def scrape_vs_nginx(workdir: Path, port: int, settings: ScrapeSettings,
                    span: float) -> tuple[dict[tuple[str, str], Scraped], int, int]:
    """Measure /metrics of the exporter on ``port`` against nginx serving its bytes, in
    rounds spread over ``span`` seconds; return the latencies by (server, encoding) and
    the plain and gzip body sizes."""
    targets = {("exporter", "plain"): Target("exporter", port, "/metrics", PLAIN),
               ("exporter", "gzip"): Target("exporter", port, "/metrics", GZIP, "gzip")}
    plain, gzipped = fetch(targets["exporter", "plain"]), fetch(targets["exporter", "gzip"])
    nginx_dir = workdir / f"nginx-{port}"
    nginx_dir.mkdir()
    results = {(server, enc): Scraped() for server in ("exporter", "nginx")
               for enc in ("plain", "gzip")}
    with procs.nginx(nginx_dir, plain, gzipped, TEXT_CONTENT_TYPE) as nginx:
        targets |= {("nginx", "plain"): Target("nginx", nginx, "/metrics", PLAIN),
                    ("nginx", "gzip"): Target("nginx", nginx, "/gz/metrics", GZIP, "gzip")}
        start = time.monotonic()
        for r in range(settings.rounds):
            time.sleep(max(0.0, start + r * span / settings.rounds - time.monotonic()))
            for encoding in ("plain", "gzip"):
                for server in ["exporter", "nginx"] if r % 2 == 0 else ["nginx", "exporter"]:
                    times = sample(targets[server, encoding], settings.requests, 60.0)
                    results[server, encoding].rounds.add(times)
                    results[server, encoding].pooled += times
    return results, len(plain), len(gzipped)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def _parts(collected: Collected, name: str) -> str:
    return "; ".join(_ms(collected.part(name, get)) for get in (
        lambda c: c.fetch, lambda c: c.wait, lambda c: c.render))


def _joins(collected: Collected) -> str:
    seconds = sorted(j.seconds for j in collected.joins)
    if not seconds:
        return "none"
    by_reader = sum(j.thread != "exposition-join" for j in collected.joins)
    return (f"{len(seconds) / collected.rounds:.1f} per interval ({by_reader} by a scrape); "
            f"median {_ms(statistics.median(seconds))}, max {_ms(seconds[-1])}")


def _collections(collected: Collected) -> str:
    seconds = collected.collections
    if not seconds:
        return "none"
    return (f"{len(seconds) / collected.rounds:.1f} per interval, "
            f"median {_ms(statistics.median(seconds))}, max {_ms(max(seconds))}")


@dataclass
class Measured:
    """What one exporter gave: its collections, its scrapes (if measured), its RSS."""

    collected: Collected
    rss: float
    scraped: dict[tuple[str, str], Scraped] | None = None
    sizes: tuple[int, int] = (0, 0)


def measure_exporter(workdir: Path, endpoints: list[Endpoint], settings: EndpointSettings,
                     *, scrape: bool) -> Measured:
    """Run one timed exporter watching ``endpoints``; time its collections, then (with
    ``scrape``) its scrapes against nginx; read its RSS last."""
    urls = [f"{e.name}={e.url}" for e in endpoints]
    with timed.exporter(workdir, urls, interval=f"{settings.interval:g}s") as exporter:
        collected = collect(exporter, endpoints, settings)
        measured = Measured(collected, 0.0)
        if scrape:
            scraped, plain, gzipped = scrape_vs_nginx(workdir, exporter.port,
                                                      settings.scrape, settings.interval)
            measured.scraped, measured.sizes = scraped, (plain, gzipped)
        measured.rss = vm_rss_mb(exporter.pid)
    return measured


def report_cycles(report: Report, alone: dict[str, Measured], together: Measured,
                  n: int) -> None:
    """Add the cycle figures to ``report``."""
    base_name = max(alone, key=lambda name: alone[name].collected.cycle(name))
    base = alone[base_name].collected
    baseline = base.cycle(base_name)
    all_of = together.collected
    slow = all_of.slowest()
    ratio = all_of.cycle(slow) / baseline
    k = len(base.cycles[base_name])
    report.add(Check(f"1 endpoint alone: cycle (median of {k}), slowest of {len(alone)}",
                     f"{_ms(baseline)} ({base_name}; "
                     + ", ".join(f"{name} {_ms(m.collected.cycle(name))}"
                                 for name, m in alone.items()) + ")", "(baseline)"))
    report.add(Check(f"{n} endpoints: slowest endpoint's cycle / slowest alone",
                     f"{_ms(all_of.cycle(slow))} / {_ms(baseline)} = {ratio:.2f}x ({slow})",
                     f"<= {CYCLE_TARGET}x", ratio <= CYCLE_TARGET))
    cycles = sorted(all_of.cycle(name) for name in all_of.cycles)
    worst = max(c.seconds for v in all_of.cycles.values() for c in v)
    report.add(Check(f"  {n} endpoints: fastest; median; slowest endpoint's cycle; worst one",
                     f"{_ms(cycles[0])}; {_ms(statistics.median(cycles))}; "
                     f"{_ms(cycles[-1])}; {_ms(worst)}", "(reported)"))
    matched = [all_of.cycle(name) / alone[name].collected.cycle(name) for name in alone]
    report.add(Check(f"  the endpoints measured alone, with {n} / alone",
                     ", ".join(f"{name} {r:.2f}x" for name, r in zip(alone, matched,
                                                                      strict=True)),
                     "(reported)"))
    report.add(Check("  slowest endpoint: fetch; wait; render",
                     _parts(all_of, slow), "(reported)"))
    report.add(Check("  alone (slowest): fetch; wait; render",
                     _parts(base, base_name), "(reported)"))
    served_alone = statistics.median(base.served[base_name])
    served_all = max(statistics.median(v) for v in all_of.served.values() if v)
    report.add(Check(f"  until in the served bodies: alone (slowest); {n} endpoints "
                     "(slowest)", f"{_ms(served_alone)}; {_ms(served_all)} = "
                     f"{served_all / served_alone:.2f}x", "(reported)"))
    report.add(Check(f"  arrangements of the bodies: alone; {n} endpoints",
                     f"{_joins(base)}; {_joins(all_of)}", "(reported)"))
    report.add(Check(f"  full garbage collections: alone; {n} endpoints",
                     f"{_collections(base)}; {_collections(all_of)}", "(reported)"))
    for label, collected, name in (("alone", base, base_name), (f"{n} endpoints", all_of, slow)):
        last = collected.cycles[name][-1]
        report.add(Check(f"  {label}: exported containers + stats durations; timed fetch; cycle",
                         f"{_ms(collected.exported.get(name, 0.0))}; {_ms(last.fetch)}; "
                         f"{_ms(last.seconds)} ({name}, last collection)", "(cross-check)"))
    per_round_alone = base.exporter_cpu / base.rounds
    per_round = all_of.exporter_cpu / all_of.rounds
    report.add(Check("exporter CPU per interval (collections + idle): 1 endpoint; "
                     f"{n} (per endpoint)",
                     f"{_ms(per_round_alone)}; {_ms(per_round)} ({_ms(per_round / n)}, "
                     f"{per_round / n / per_round_alone:.1f}x)", "(reported)"))
    report.add(Check(f"simulators' CPU per interval: 1; {n} endpoints",
                     f"{_ms(base.simulators_cpu / base.rounds)}; "
                     f"{_ms(all_of.simulators_cpu / all_of.rounds)}", "(reported)"))


def report_scrapes(report: Report, one: Measured, many: Measured, n: int) -> None:
    """Add the scrape latency figures to ``report``."""
    assert one.scraped is not None and many.scraped is not None
    for i, encoding in enumerate(("plain", "gzip")):
        ratios = []
        for label, measured in (("1 endpoint", one), (f"{n} endpoints", many)):
            assert measured.scraped is not None
            exp, ngx = (measured.scraped[s, encoding] for s in ("exporter", "nginx"))
            ratio = exp.rounds.median_p50() / ngx.rounds.median_p50()
            ratios.append(ratio)
            size = measured.sizes[i]
            name = f"{label} {encoding} ({size / 1e3:,.0f} kB): exporter p50 / nginx p50"
            value = (f"{exp.rounds.median_p50() * 1e3:.3f} / "
                     f"{ngx.rounds.median_p50() * 1e3:.3f} ms = {ratio:.2f}x")
            if len(ratios) == 1:
                report.add(Check(name, value, "(reference)"))
            else:
                limit = SCRAPE_TARGET * ratios[0]
                report.add(Check(name, value, f"<= {SCRAPE_TARGET}x {ratios[0]:.2f} = "
                                 f"{limit:.2f}x", ratio <= limit))
            report.add(Check(f"  {label} {encoding}: p99 exporter / nginx; pooled",
                             f"{exp.rounds.median_p99() * 1e3:.3f} / "
                             f"{ngx.rounds.median_p99() * 1e3:.3f}; "
                             f"{percentile(exp.pooled, 0.99) * 1e3:.3f} / "
                             f"{percentile(ngx.pooled, 0.99) * 1e3:.3f} ms", "(reported)"))


def measure(workdir: Path, settings: EndpointSettings, report: Report) -> None:
    """Measure everything this module describes; add the figures to ``report``."""
    s = settings
    with contextlib.ExitStack() as stack:
        started = time.monotonic()
        endpoints = start_simulators(stack, workdir, s.endpoints, s.containers)
        print(f"\n-- {s.endpoints} simulated Podmans x {s.containers} containers started in "
              f"{time.monotonic() - started:.0f} s; interval {s.interval:g} s, "
              f"{s.collections} timed collections each", flush=True)
        picks = sorted({round(i * (s.endpoints - 1) / max(1, s.baselines - 1))
                        for i in range(s.baselines)})
        alone: dict[str, Measured] = {}
        for n, i in enumerate(picks):
            e = endpoints[i]
            alone[e.name] = measure_exporter(workdir, [e], s, scrape=n == 0)
            print(f"   {e.name} alone: cycles "
                  + " ".join(_ms(c.seconds) for c in alone[e.name].collected.cycles[e.name]),
                  flush=True)
        together = measure_exporter(workdir, endpoints, s, scrape=True)
        slow = together.collected.slowest()
        print(f"   {s.endpoints} together: slowest {slow}: cycles "
              + " ".join(_ms(c.seconds) for c in together.collected.cycles[slow]), flush=True)
    print()
    report_cycles(report, alone, together, s.endpoints)
    one = alone[endpoints[picks[0]].name]
    report_scrapes(report, one, together, s.endpoints)
    report.add(Check(f"exporter RSS: 1 endpoint; {s.endpoints} endpoints",
                     f"{one.rss:.1f}; {together.rss:.1f} MiB", "(reported)"))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 1 when a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench.endpoints",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=50)
    parser.add_argument("--containers", type=int, default=100)
    parser.add_argument("--interval", type=float, help="collect interval, s (15; quick 5)")
    parser.add_argument("--quick", action="store_true",
                        help="5 s interval, 3 collections, 2 endpoints alone, fewer scrapes")
    parser.add_argument("--markdown", action="store_true", help="also print a markdown table")
    args = parser.parse_args(argv)
    settings = replace(QUICK if args.quick else EndpointSettings(),
                       endpoints=args.endpoints, containers=args.containers)
    if args.interval is not None:
        settings = replace(settings, interval=args.interval)
    report = Report()
    started = time.monotonic()
    with TemporaryDirectory(prefix="podman-exporter-endpoints-") as tmp:
        measure(Path(tmp), settings, report)
    return report.summary(started, args.markdown)


if __name__ == "__main__":
    sys.exit(main())
