"""What ``containers/json?all=true&size=true`` costs Podman, against the plain listing.

On a private real Podman (``private_podman()`` of tests/e2e/podman_env.py: own storage,
own REST socket, removed afterwards) with a fleet of mostly created containers, some
running ``sleep`` and some that wrote 1 MB into their writable layer and exited, this
measures, per fleet size and in one run, interleaved call by call:

- the plain listing ``containers/json?all=true`` (what every collection asks);
- the same with ``size=true`` (what the sizes collector asks on its own schedule);
- the bulk ``containers/stats?stream=false&containers=...`` of the running ones;
- the rest of one main collection (``images/json``, ``info``, ``pods/json``,
  ``volumes/json``), so that a whole collection's Podman CPU is known.

Per call: wall-clock latency on one keep-alive connection, and the CPU the
``podman system service`` process spent meanwhile (every thread's run time from
``/proc/PID/task/*/schedstat``, in ns, plus its reaped children's cutime+cstime;
utime+stime+cutime+cstime from ``/proc/PID/stat``, 10 ms ticks, is summed as a
cross-check). Prints medians and maxima, size=true / plain ratios, the CPU per
container, and the shortest ``--collector.sizes.interval`` that keeps the sizes
collector's Podman CPU under a share of the main collection's.

Run: ``python -m bench.sizes [--containers 100,1000] [--reps 5]`` as root with podman.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))

from podman_env import IMAGE, PodmanEnv, private_podman

from bench import procs
from podman_exporter.podman.rest_http import API_PREFIX, UnixHTTPConnection

TICK = os.sysconf("SC_CLK_TCK")
WRITE = "/bin/busybox head -c 1000000 /dev/zero > /f"
NICE_INTERVALS = (60, 120, 300, 600, 900, 1200, 1800, 3600, 7200)
PLAIN = "/containers/json?all=true"
SIZED = "/containers/json?all=true&size=true"
OTHERS = {"images": "/images/json?all=true", "info": "/info", "pods": "/pods/json",
          "volumes": "/volumes/json"}


@dataclass(frozen=True, slots=True)
class Cpu:
    """CPU the service has used so far, in seconds, read two ways."""

    run: float
    """Every thread's run time (schedstat, ns) plus reaped children's cutime+cstime."""
    ticks: float
    """utime+stime+cutime+cstime of /proc/PID/stat (clock ticks)."""


def service_cpu(pid: int) -> Cpu:
    """Return the CPU time process ``pid`` (all its threads) and its reaped children used."""
    utime, stime, cutime, cstime = (int(x) for x in procs.stat_fields(pid)[11:15])
    run_ns = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        # a thread may end between listing and reading
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            run_ns += int((task / "schedstat").read_text().split()[0])
    return Cpu(run_ns / 1e9 + (cutime + cstime) / TICK,
               (utime + stime + cutime + cstime) / TICK)


@dataclass
class Samples:
    """Wall and service-CPU seconds of every timed call of one kind."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    ticks: list[float] = field(default_factory=list)
    body: int = 0


class Caller:
    """Times REST calls on one keep-alive connection, with the service's CPU around each."""

    def __init__(self, env: PodmanEnv) -> None:
        assert env.service is not None
        self.pid = env.service.pid
        self.sock = str(env.socket_path)
        self.conn = UnixHTTPConnection(self.sock, 900)

    def get(self, path: str) -> bytes:
        """Return the body of GET ``path`` (under the libpod prefix); raise unless 200."""
        self.conn.request("GET", API_PREFIX + path)
        response = self.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status}: {body[:300]!r}")
        return body

    def timed(self, path: str, into: Samples) -> bytes:
        """Call ``path`` once; append its wall and service CPU to ``into``."""
        c0 = service_cpu(self.pid)
        t0 = time.perf_counter()
        body = self.get(path)
        wall = time.perf_counter() - t0
        c1 = service_cpu(self.pid)
        into.wall.append(wall)
        into.cpu.append(c1.run - c0.run)
        into.ticks.append(c1.ticks - c0.ticks)
        into.body = len(body)
        return body


def build_fleet(env: PodmanEnv, total: int, *, running: int, writers: int, workers: int,
                have: int) -> int:
    """Bring the fleet to ``total`` containers: the first call starts ``running`` sleeping
    ones and ``writers`` that wrote 1 MB and exited; the rest are created, not started.
    Return the number of containers now there."""
    net = ("--network", env.network)
    commands: list[list[str]] = []
    if have == 0:
        commands += [["run", "-d", *net, "--name", f"sz-run-{i}", IMAGE, "sleep", "100000"]
                     for i in range(running)]
        commands += [["run", *net, "--name", f"sz-wrote-{i}", IMAGE, "sh", "-c", WRITE]
                     for i in range(writers)]
        have = running + writers
    commands += [["create", *net, "--name", f"sz-created-{i}", IMAGE, "true"]
                 for i in range(have, total)]
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda c: env.podman(*c), commands))
    took = time.monotonic() - t0
    print(f"  {len(commands)} podman create/run with {workers} workers: {took:.0f} s "
          f"({took / max(1, len(commands)) * 1e3:.0f} ms each)", flush=True)
    return max(have, total)


def check_sizes(body: bytes, writers: int) -> str:
    """Return a one-line summary of a size=true reply; raise when the writers' 1 MB
    is missing from their SizeRw."""
    records = json.loads(body)
    rw = [r.get("Size", {}) or {} for r in records]
    wrote = [s.get("rwSize", 0) for r, s in zip(records, rw, strict=True)
             if any(n.startswith("sz-wrote-") for n in r.get("Names") or [])]
    if len(wrote) != writers or any(w < 1_000_000 for w in wrote):
        raise RuntimeError(f"writers' rwSize not >= 1 MB: {wrote[:5]}")
    root = sorted(s.get("rootFsSize", 0) for s in rw)
    return (f"{len(records)} records; rootFsSize median {root[len(root) // 2]} B; "
            f"writers' rwSize {min(wrote)}..{max(wrote)} B; "
            f"rwSize sum {sum(s.get('rwSize', 0) for s in rw)} B")


def concurrent_plain(caller: Caller, sized_wall: float) -> tuple[float, bool, bool]:
    """Return the plain listing's latency when a size=true call was started 0.3 x its
    usual latency earlier on another connection, whether that call was still in flight
    when the plain one started, and whether the plain one ended first (if Podman
    serialized the two, it would end last)."""
    other = Caller.__new__(Caller)
    other.pid, other.sock = caller.pid, caller.sock
    other.conn = UnixHTTPConnection(caller.sock, 900)
    ended: list[float] = []
    def sized_call() -> None:
        other.get(SIZED)
        ended.append(time.perf_counter())

    thread = threading.Thread(target=sized_call)
    thread.start()
    time.sleep(0.3 * sized_wall)
    overlapped = not ended
    t0 = time.perf_counter()
    caller.get(PLAIN)
    t1 = time.perf_counter()
    thread.join()
    other.conn.close()
    return t1 - t0, overlapped, t1 < ended[0]


@dataclass
class Result:
    """The samples of one fleet size."""

    containers: int
    running: int
    calls: dict[str, Samples]
    first_sized: tuple[float, float]
    during: list[float]
    plain_first: int
    unattributed: float


def measure(env: PodmanEnv, caller: Caller, containers: int, writers: int,
            reps: int) -> Result:
    """Time every call ``reps`` times, interleaved; return the samples."""
    listing = json.loads(caller.get(PLAIN))
    if len(listing) != containers:
        raise RuntimeError(f"{len(listing)} containers listed, {containers} expected")
    running = [c["Id"] for c in listing if c.get("State") == "running"]
    stats = "/containers/stats?stream=false&" + "&".join(f"containers={i}" for i in running)
    calls = {"plain": Samples(), "size": Samples(), "stats": Samples(),
             **{k: Samples() for k in OTHERS}}
    paths = {"plain": PLAIN, "size": SIZED, "stats": stats, **OTHERS}
    for key in ("plain", "stats", *OTHERS):  # warm up: caches, connection
        caller.get(paths[key])
    first = Samples()
    print(f"  size=true summary: {check_sizes(caller.timed(SIZED, first), writers)}")
    total0 = service_cpu(caller.pid)
    for rep in range(reps):
        order = ["plain", "size", "stats"]
        for key in (order if rep % 2 == 0 else order[::-1]) + list(OTHERS):
            caller.timed(paths[key], calls[key])
    total1 = service_cpu(caller.pid)
    measured = sum(sum(s.ticks) for s in calls.values())
    during, plain_first = [], 0
    for _ in range(reps):
        wall, overlapped, first_done = concurrent_plain(
            caller, statistics.median(calls["size"].wall))
        if overlapped:
            during.append(wall)
            plain_first += first_done
    return Result(containers, len(running), calls, (first.wall[0], first.cpu[0]),
                  during, plain_first, (total1.ticks - total0.ticks) - measured)


def ms(seconds: float) -> str:
    """Return seconds as milliseconds with sensible precision."""
    value = seconds * 1e3
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def collection_cpu(r: Result) -> list[float]:
    """Return the service CPU of each rep's whole main collection (every call but size)."""
    keys = ["plain", "stats", *OTHERS]
    return [sum(r.calls[k].cpu[i] for k in keys) for i in range(len(r.calls["plain"].cpu))]


def report(results: list[Result], main_interval: float, share: float) -> None:
    """Print the table, the ratios and the interval recommendation."""
    med, mx = statistics.median, max
    print("\n| containers | call | latency median / max (ms) | Podman CPU median / max (ms) "
          "| CPU sum of reps: schedstat / /proc/PID/stat ticks (ms) | reply |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in results:
        for key, label in (("plain", "`containers/json?all=true`"),
                           ("size", "same + `size=true`"),
                           ("stats", f"`containers/stats` ({r.running} ids)"),
                           *((k, f"`{OTHERS[k].split('?')[0][1:]}`") for k in OTHERS)):
            s = r.calls[key]
            print(f"| {r.containers:,} | {label} | {ms(med(s.wall))} / {ms(mx(s.wall))} | "
                  f"{ms(med(s.cpu))} / {ms(mx(s.cpu))} | {ms(sum(s.cpu))} / {ms(sum(s.ticks))} | "
                  f"{s.body / 1024:,.0f} kB |")
        coll = collection_cpu(r)
        print(f"| {r.containers:,} | whole main collection (all but size) | | "
              f"{ms(med(coll))} / {ms(mx(coll))} | | |")
    print("\n| containers | size=true / plain, latency | size=true / plain, CPU "
          "| size=true CPU per container | size=true CPU / main collection CPU "
          "| first size=true call (latency, CPU) | plain list during a size=true call |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        p, s = r.calls["plain"], r.calls["size"]
        main_cpu = med(collection_cpu(r))
        during = (f"{ms(med(r.during))} ms (alone {ms(med(p.wall))}; ended first "
                  f"{r.plain_first}/{len(r.during)})" if r.during else "no overlap")
        print(f"| {r.containers:,} | {med(s.wall) / med(p.wall):.1f}x "
              f"| {med(s.cpu) / med(p.cpu):.1f}x "
              f"| {med(s.cpu) / r.containers * 1e3:.2f} ms "
              f"| {med(s.cpu) / main_cpu:.2f}x "
              f"| {ms(r.first_sized[0])} ms, {ms(r.first_sized[1])} ms "
              f"| {during} |")
    for r in results:
        print(f"{r.containers:,} containers: service CPU outside the timed calls during the "
              f"reps (stat ticks): {ms(r.unattributed)} ms")
    big = results[-1]
    sized = med(big.calls["size"].cpu)
    for title, base in (("whole main collection", med(collection_cpu(big))),
                        ("plain list + stats only",
                         med(big.calls["plain"].cpu) + med(big.calls["stats"].cpu))):
        shortest = main_interval * sized / (share * base)
        nice = next((n for n in NICE_INTERVALS if n >= shortest), NICE_INTERVALS[-1])
        print(f"at {big.containers:,} containers, against the {title} "
              f"({ms(base)} ms Podman CPU per {main_interval:g} s): sizes CPU <= "
              f"{share:.0%} of it needs an interval >= {shortest:,.0f} s -> {nice} s")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 0."""
    ap = argparse.ArgumentParser(prog="python -m bench.sizes",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--containers", default="100,1000", help="fleet sizes, ascending")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--running", type=int, default=20, help="containers running sleep")
    ap.add_argument("--writers", type=int, default=20,
                    help="exited containers that wrote 1 MB into their writable layer")
    ap.add_argument("--workers", type=int, default=8, help="parallel podman create")
    ap.add_argument("--main-interval", type=float, default=15.0)
    ap.add_argument("--share", type=float, default=0.10,
                    help="sizes CPU allowed, as a share of the main collection's")
    args = ap.parse_args(argv)
    sizes = sorted(int(s) for s in args.containers.split(","))
    started = time.monotonic()
    print(f"machine: {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    results = []
    with private_podman("pe-bench-sizes-") as env:
        caller = Caller(env)
        info = json.loads(caller.get("/info"))
        print(f"Podman {info['version']['Version']}, storage driver "
              f"{info['store']['graphDriverName']}, runtime {info['host']['ociRuntime']['name']}",
              flush=True)
        have = 0
        for total in sizes:
            print(f"\n== {total:,} containers", flush=True)
            have = build_fleet(env, total, running=min(args.running, total // 4),
                               writers=min(args.writers, total // 4), workers=args.workers,
                               have=have)
            results.append(measure(env, caller, total, min(args.writers, total // 4),
                                   args.reps))
        caller.conn.close()
        print("\ncleaning up ...", flush=True)
    report(results, args.main_interval, args.share)
    print(f"\nrun time {time.monotonic() - started:.0f} s (reps {args.reps}; load average "
          f"now {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
