"""What a flood of Podman events costs the exporter: CPU per event, and /metrics latency.

One REST Podman (bench/floodsim.py: bench/restsim.py's fleet, every container running,
and an event stream that floods on demand) and one exporter (bench/timed.py: the
exporter with its collections timed; ``--collect.interval 15s``), each in its own
process. In one run:

1. idle: the exporter's CPU per second over a window of whole collection intervals
   (as many scheduled collections in it as in any window that long), no scrapes;
2. before: /metrics scraped in rounds spread over ``seconds`` (plain and gzip, one
   keep-alive connection, order alternating): the latencies, and the CPU of a scrape
   (this window's CPU less the idle CPU, per request);
3. flood: ``rate`` events a second for ``seconds`` while the same rounds of scrapes run,
   then until the exporter's ``podman_events_total`` adds up to the events written.
   CPU per 1,000 events = (CPU of the window - idle CPU/s x window - CPU of its
   scrapes) / events x 1,000. The count must be exact.

CPU is utime + stime of ``/proc/PID/stat``: it keeps the time of ended threads (each
refresh runs in a thread of its own). Latency targets: p50 and p99 during the flood
within 1.5x of before, plain and gzip.

Run: ``python -m bench.events [--rate 2000] [--seconds 30] [--quick] [--markdown]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from bench import procs, timed
from bench.client import GZIP, PLAIN, Target, fetch, percentile, sample
from bench.report import Check, Report
from podman_exporter.podman.rest_http import UnixHTTPConnection

LATENCY_TARGET = 1.5
ENDPOINT = "flood"
EVENTS_TOTAL = re.compile(r'^podman_events_total\{([^}]*)\} (\S+)$', re.MULTILINE)
STREAM_UP = f'podman_exporter_event_stream_up{{endpoint="{ENDPOINT}"}} 1.0'


@dataclass(frozen=True, slots=True)
class EventSettings:
    """The flood and the measuring windows."""

    rate: float = 2000.0
    seconds: float = 30.0
    containers: int = 100
    interval: float = 15.0
    """The exporter's --collect.interval; the idle window is a whole number of them."""
    rounds: int = 10
    scrapes: int = 200
    """Timed scrapes per encoding, before and during the flood."""
    drain: float = 60.0
    """Seconds the count may take to catch up after the flood."""
    every: float = 0.0
    """Seconds between the simulator's writes (0: each event written when due)."""


@contextlib.contextmanager
def flood_simulator(workdir: Path, containers: int) -> Iterator[Path]:
    """Run bench.floodsim; yield its socket path."""
    sock = workdir / f"floodsim-{containers}.sock"
    log = workdir / f"floodsim-{containers}.log"
    argv = [procs.PYTHON, "-m", "bench.floodsim", "--socket", str(sock),
            "--containers", str(containers)]
    with procs.process(argv, log) as proc:
        procs._wait(lambda: b"listening" in log.read_bytes(), proc, "flood simulator", log)
        yield sock


def control(sock: Path, path: str) -> dict[str, Any]:
    """Return the JSON answer of a control call to the flood simulator."""
    conn = UnixHTTPConnection(str(sock), 10.0)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"flood simulator: {path}: HTTP {response.status}: {body!r}")
        value: dict[str, Any] = json.loads(body)
        return value
    finally:
        conn.close()


def counted(body: bytes) -> Counter[str]:
    """Return the exposition's ``podman_events_total`` of the endpoint, by action."""
    counts: Counter[str] = Counter()
    for labels, value in EVENTS_TOTAL.findall(body.decode()):
        found = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if found.get("endpoint") == ENDPOINT:
            counts[found.get("action", "")] += round(float(value))
    return counts


@dataclass
class Scrapes:
    """Latencies of rounds of scrapes, pooled per encoding, and the requests made."""

    times: dict[str, list[float]]
    requests: int = 0

    def p(self, encoding: str, q: float) -> float:
        """Return the ``q`` quantile of one encoding's latencies, in seconds."""
        return percentile(self.times[encoding], q)


def scrape_rounds(port: int, settings: EventSettings, span: float) -> Scrapes:
    """Scrape in ``settings.rounds`` rounds spread evenly over ``span`` seconds."""
    targets = {"plain": Target("exporter", port, "/metrics", PLAIN),
               "gzip": Target("exporter", port, "/metrics", GZIP, "gzip")}
    per_round = math.ceil(settings.scrapes / settings.rounds)
    result = Scrapes({"plain": [], "gzip": []})
    start = time.monotonic()
    for r in range(settings.rounds):
        time.sleep(max(0.0, start + r * span / settings.rounds - time.monotonic()))
        for encoding in ("plain", "gzip") if r % 2 == 0 else ("gzip", "plain"):
            result.times[encoding] += sample(targets[encoding], per_round, 60.0, warmup=1)
            result.requests += per_round + 1
    time.sleep(max(0.0, start + span - time.monotonic()))
    return result


def _wait_connected(sock: Path, port: int, exporter: timed.Timed) -> None:
    deadline = time.monotonic() + 60
    plain = Target("exporter", port, "/metrics", PLAIN)
    while time.monotonic() < deadline:
        if control(sock, "/bench/status")["streams"] == 1 and \
                STREAM_UP.encode() in fetch(plain) and \
                any(c.full for c in exporter.cycles()):
            return
        time.sleep(0.2)
    raise RuntimeError("the exporter's event stream did not connect")


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def measure(workdir: Path, settings: EventSettings, report: Report) -> None:
    """Flood one exporter with events; add the figures to ``report``."""
    s = settings
    idle_window = s.interval * max(1, math.ceil(s.seconds / s.interval))
    with contextlib.ExitStack() as stack:
        sock = stack.enter_context(flood_simulator(workdir, s.containers))
        exporter = stack.enter_context(timed.exporter(
            workdir, [f"{ENDPOINT}=unix://{sock}"], interval=f"{s.interval:g}s"))
        pid, port = exporter.pid, exporter.port
        _wait_connected(sock, port, exporter)
        time.sleep(3)  # the first collection's threads settle
        print(f"\n-- events: {s.containers} containers, idle window {idle_window:g} s",
              flush=True)
        c0, t0 = timed.stat_cpu(pid), time.monotonic()
        time.sleep(idle_window)
        c1, t1 = timed.stat_cpu(pid), time.monotonic()
        idle = (c1 - c0) / (t1 - t0)
        print(f"   idle: {idle * 1e3:.3f} ms/s; scraping before the flood ...", flush=True)
        c0, t0 = timed.stat_cpu(pid), time.monotonic()
        before = scrape_rounds(port, s, s.seconds)
        c1, t1 = timed.stat_cpu(pid), time.monotonic()
        per_scrape = max(0.0, (c1 - c0) - idle * (t1 - t0)) / before.requests
        print(f"   {before.requests} scrapes: {per_scrape * 1e3:.3f} ms of CPU each; "
              f"flooding {s.rate:g}/s for {s.seconds:g} s ...", flush=True)
        logged = len(exporter.cycles())
        (u0, k0), t0 = timed.stat_times(pid), time.monotonic()
        started = control(sock, f"/bench/flood?rate={s.rate:g}&seconds={s.seconds:g}"
                                f"&every={s.every:g}")
        if started["streams"] != 1:
            raise RuntimeError(f"{started['streams']} event streams open, expected 1")
        during = scrape_rounds(port, s, s.seconds)
        while not (status := control(sock, "/bench/status"))["done"]:
            time.sleep(0.1)
        sent: Counter[str] = Counter(status["by_action"])
        polls, seen = 0, Counter[str]()
        plain = Target("exporter", port, "/metrics", PLAIN)
        deadline = time.monotonic() + s.drain
        while time.monotonic() < deadline:
            seen = counted(fetch(plain))
            polls += 1
            if seen == sent:
                break
            time.sleep(0.2)
        (u1, k1), t1 = timed.stat_times(pid), time.monotonic()
        cycles = exporter.cycles()[logged:]
    c0, c1 = u0 + k0, u1 + k1
    window = t1 - t0
    total = sum(sent.values())
    scrapes_cpu = per_scrape * (during.requests + polls)
    flood_cpu = (c1 - c0) - idle * window - scrapes_cpu
    refreshes = [c for c in cycles if not c.full]
    print(f"   sent {total:,} events in {status['elapsed']:.2f} s; window {window:.1f} s; "
          f"exporter CPU {c1 - c0:.3f} s, of which idle {idle * window:.3f} s, scrapes "
          f"{scrapes_cpu:.3f} s; {len(refreshes)} refreshes, "
          f"{len(cycles) - len(refreshes)} scheduled collections", flush=True)
    missing = {a: sent[a] - seen[a] for a in sent | seen if sent[a] != seen[a]}
    report.add(Check("events: podman_events_total summed / events sent",
                     f"{sum(seen.values()):,} / {total:,}"
                     + (f" (off by action: {missing})" if missing else ""),
                     "equal", not missing))
    writes = f", a write every {s.every * 1e3:g} ms" if s.every else ", each event written when due"
    report.add(Check("  delivered rate", f"{total / status['elapsed']:,.0f}/s "
                     f"({total:,} in {status['elapsed']:.1f} s{writes})", f"{s.rate:g}/s asked"))
    report.add(Check("exporter CPU per 1,000 events", f"{flood_cpu / total * 1e6:.1f} ms",
                     "(reported)"))
    report.add(Check("  exporter CPU: idle; during the flood (window, system share)",
                     f"{idle * 1e3:.2f}; {(c1 - c0) / window * 1e3:.0f} ms/s "
                     f"({window:.1f} s, {(k1 - k0) / (c1 - c0):.0%})", "(reported)"))
    if refreshes:
        report.add(Check("  refreshes in the flood window: count; median duration",
                         f"{len(refreshes)} ({len(refreshes) / window:.1f}/s); "
                         f"{statistics.median(c.seconds for c in refreshes) * 1e3:.1f} ms",
                         "(reported)"))
    for encoding in ("plain", "gzip"):
        for q, name in ((0.50, "p50"), (0.99, "p99")):
            b, d = before.p(encoding, q), during.p(encoding, q)
            report.add(Check(f"/metrics {encoding} {name}: during the flood / before",
                             f"{_ms(d)} / {_ms(b)} = {d / b:.2f}x",
                             f"<= {LATENCY_TARGET}x", d / b <= LATENCY_TARGET))


QUICK = EventSettings(seconds=10.0, rounds=5, scrapes=100)


def main(argv: list[str] | None = None) -> int:
    """Run the event flood benchmark; return 1 when a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench.events",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, help="events a second (default 2000)")
    parser.add_argument("--seconds", type=float, help="flood duration (default 30, quick 10)")
    parser.add_argument("--containers", type=int, help="containers in the fleet (default 100)")
    parser.add_argument("--every-ms", type=float,
                        help="ms between the simulator's writes (default 0: each event when due)")
    parser.add_argument("--quick", action="store_true", help="a shorter flood, fewer scrapes")
    parser.add_argument("--markdown", action="store_true", help="also print a markdown table")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else EventSettings()
    changes = {k: v for k, v in (("rate", args.rate), ("seconds", args.seconds),
                                 ("containers", args.containers),
                                 ("every", args.every_ms and args.every_ms / 1e3))
               if v is not None}
    if changes:
        settings = replace(settings, **changes)
    report = Report()
    started = time.monotonic()
    with TemporaryDirectory(prefix="podman-exporter-events-") as tmp:
        measure(Path(tmp), settings, report)
    return report.summary(started, args.markdown)


if __name__ == "__main__":
    sys.exit(main())
