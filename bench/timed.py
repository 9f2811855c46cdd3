"""The exporter with each of its collections timed, for the benchmarks of several
endpoints (bench/endpoints.py) and of event floods (bench/events.py).

``python -m bench.timed LOG [exporter flags]`` runs ``podman-exporter`` unchanged but
for wrappers that append one JSON line to LOG per collection, per arrangement of the
served bodies and per full garbage collection:

- a collection (``CollectionLoop.collect_once``): the endpoint, whether it was a full
  (scheduled) collection or a refresh asked for by events, its wall-clock start and
  its duration from its start until ``publish`` returned (its series reach scrapes when
  the next arrangement of the served bodies ends), with the
  parts of it: fetching (start -> publish called), waiting (publish less the timed
  rendering: the wait for the exposition's lock, which every endpoint's publish takes,
  and for the GIL) and rendering the endpoint's families;
- an arrangement of the served bodies (``ExpositionCache._assemble``: every endpoint's
  families arranged into the bodies, the formats asked for lately joined and their
  gzip forms compressed), in the joining thread or in a reader: its wall-clock start,
  its duration and its thread (``Join``). ``served`` tells when the first one that
  began after a collection's publish ended;
- a full garbage collection (generation 2, ``gc.callbacks``): its start and duration.

The exporter itself exports only its collectors' durations and the time they ended,
which leave out the waits between collectors, the lock and the rendering.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import procs


@dataclass(frozen=True, slots=True)
class Cycle:
    """One collection as the wrapper timed it (seconds but ``start``)."""

    endpoint: str
    full: bool
    """A scheduled collection of every due collector (not an event refresh)."""
    start: float
    """Wall-clock start (``time.time``)."""
    seconds: float
    """Until publish returned."""
    fetch: float
    wait: float
    render: float


@dataclass(frozen=True, slots=True)
class Join:
    """One join of the served bodies (seconds but ``start``)."""

    start: float
    """Wall-clock start (``time.time``)."""
    seconds: float
    thread: str


def read_cycles(path: Path) -> list[Cycle]:
    """Return the collections logged in ``path`` so far, in the order they ended."""
    return [Cycle(**r) for r in _records(path) if "endpoint" in r]


def read_joins(path: Path) -> list[Join]:
    """Return the joins logged in ``path`` so far, in the order they ended."""
    return [Join(**r) for r in _records(path) if "thread" in r]


def read_collections(path: Path) -> list[tuple[float, float]]:
    """Return (wall-clock start, seconds) of the full garbage collections logged so far."""
    return [(r["start"], r["seconds"]) for r in _records(path) if "gc" in r]


def _records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def served(cycle: Cycle, joins: Sequence[Join]) -> float | None:
    """Return the seconds from a collection's start until the first join that began
    after its publish returned had ended, None if none has."""
    published = cycle.start + cycle.seconds
    ends = [j.start + j.seconds for j in joins if j.start >= published]
    return min(ends) - cycle.start if ends else None


def install(log: Path) -> None:
    """Wrap the collection, publishing and rendering functions to log every collection."""
    from podman_exporter.collect.loop import CollectionLoop
    from podman_exporter.exposition import render
    from podman_exporter.snapshot.snapshot import Snapshot

    out = log.open("a", buffering=1)
    write_lock = threading.Lock()
    local = threading.local()

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent: dict[str, float] | None = getattr(local, "spent", None)
                if spent is not None:
                    spent[name] = spent.get(name, 0.0) + time.perf_counter() - start
        return wrapper

    def write(record: dict[str, Any]) -> None:
        with write_lock:
            out.write(json.dumps(record) + "\n")

    collect_once = CollectionLoop.collect_once
    publish = render.ExpositionCache.publish
    assemble = render.ExpositionCache._assemble

    def timed_collect(self: CollectionLoop, only: frozenset[str] | None = None, *,
                      also: frozenset[str] = frozenset()) -> Snapshot:
        wall, start = time.time(), time.perf_counter()
        local.start, local.spent = start, {}
        try:
            return collect_once(self, only, also=also)
        finally:
            seconds = time.perf_counter() - start
            spent, local.spent = local.spent, None
            render_seconds = spent.get("_podman", 0.0) + spent.get("_own", 0.0)
            write({"endpoint": self.endpoint, "full": only is None, "start": wall,
                   "seconds": seconds, "fetch": spent.get("called", seconds),
                   "wait": max(0.0, spent.get("publish", 0.0) - render_seconds),
                   "render": render_seconds})

    def timed_assemble(self: render.ExpositionCache) -> None:
        wall, start = time.time(), time.perf_counter()
        try:
            assemble(self)
        finally:
            write({"start": wall, "seconds": time.perf_counter() - start,
                   "thread": threading.current_thread().name})

    def timed_publish(self: render.ExpositionCache, snapshot: Snapshot) -> None:
        spent: dict[str, float] | None = getattr(local, "spent", None)
        if spent is not None:
            spent["called"] = time.perf_counter() - local.start
        publish(self, snapshot)

    gc_started: dict[str, float] = {}

    def gc_timed(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_started["wall"], gc_started["at"] = time.time(), time.perf_counter()
        elif info["generation"] == 2 and "at" in gc_started:
            write({"gc": info["generation"], "start": gc_started["wall"],
                   "seconds": time.perf_counter() - gc_started["at"]})

    gc.callbacks.append(gc_timed)
    render._podman = timed("_podman", render._podman)
    render._own = timed("_own", render._own)
    render.ExpositionCache._assemble = timed_assemble  # type: ignore[method-assign]
    render.ExpositionCache.publish = timed(  # type: ignore[method-assign]
        "publish", timed_publish)
    CollectionLoop.collect_once = timed_collect  # type: ignore[method-assign]


@dataclass(frozen=True, slots=True)
class Timed:
    """A running timed exporter."""

    port: int
    pid: int
    log: Path

    def cycles(self) -> list[Cycle]:
        """Return the collections it logged so far."""
        return read_cycles(self.log)

    def joins(self) -> list[Join]:
        """Return the joins it logged so far."""
        return read_joins(self.log)

    def garbage_collections(self) -> list[tuple[float, float]]:
        """Return the full garbage collections it logged so far (start, seconds)."""
        return read_collections(self.log)


@contextlib.contextmanager
def exporter(workdir: Path, urls: Sequence[str], *, interval: str, connections: int = 8,
             extra: tuple[str, ...] = ()) -> Iterator[Timed]:
    """Run the timed exporter (REST) watching ``urls`` (``NAME=URL`` each); yield it once
    /metrics answers 200."""
    port = procs.free_port()
    log = workdir / f"timed-{port}.jsonl"
    argv = [procs.PYTHON, "-m", "bench.timed", str(log), "--podman.api", "rest",
            *(arg for url in urls for arg in ("--podman.url", url)),
            "--web.listen-address", f"127.0.0.1:{port}", "--podman.connections",
            str(connections), "--collect.interval", interval, *extra]
    output = workdir / f"timed-{port}.log"
    with procs.process(argv, output) as proc:
        procs._wait(lambda: procs.http_ok(port, "/metrics"), proc, "timed exporter", output)
        yield Timed(port, proc.pid, log)


def stat_times(pid: int) -> tuple[float, float]:
    """Return the user and system CPU seconds (utime, stime of ``/proc/PID/stat``, clock
    ticks) process ``pid`` has used, its ended threads included (per-thread schedstat
    loses those, and the exporter starts a thread per refresh)."""
    fields = procs.stat_fields(pid)
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def stat_cpu(pid: int) -> float:
    """Return the CPU seconds process ``pid`` has used (``stat_times`` summed)."""
    return sum(stat_times(pid))


def main(argv: list[str] | None = None) -> int:
    """Install the timing wrappers and run the exporter; return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("-"):
        print("usage: python -m bench.timed LOG [podman-exporter flags]", file=sys.stderr)
        return 2
    install(Path(args[0]))
    from podman_exporter.cli import main as exporter_main

    return exporter_main(args[1:])


if __name__ == "__main__":
    sys.exit(main())
