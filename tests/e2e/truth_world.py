"""The truth tests' world: one private Podman running the zoo of truth_zoo.py, two
exporters watching it (REST, and varlink through the bridge), and one observation.


One private Podman runs the zoo of truth_zoo.py (a CPU burner, a memory holder, a
block writer with O_DIRECT, a web server and its client, a pod, exited, killed,
paused, health-checked containers ...). Two exporters watch it at once, one on the
REST socket and one through the varlink bridge. Once every container has finished
its work, the kernel's figures are read, then each exporter is scraped from a
collection that began after that read, then the kernel's figures are read again:
a counter must lie between the two reads (they are equal when the work is over),
and a value Podman gets from its own state must equal what ``podman inspect``,
``podman ps --size``, ``podman images`` or ``podman pod ps`` say.

Ground-truth formulas (what Podman 4.3.1 reads on cgroup v1) are in truth_zoo.py.
No tolerance here is wider than timing explains: counters are exact (between the
two reads), times are to the second (Podman's list gives whole seconds), the host
uptime to 1 s (Podman's resolution) plus the duration of the collection.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporter_proc import Exporter, Scrape
from podman_env import PodmanEnv, private_podman
from truth_zoo import (
    UptimeRecorder,
    Usage,
    Zoo,
    build,
    read_usage,
    sample,
)

APIS = ("rest", "varlink")
COLLECTED = "podman_exporter_last_collection_timestamp_seconds"
ZERO_TIME = "0001-01-01T00:00:00Z"
NS = 1e9


@dataclass
class World:
    """The zoo, both exporters, and what was seen in one observation window."""

    zoo: Zoo
    exporters: dict[str, Exporter]
    recorders: dict[str, UptimeRecorder]
    sizes_flag: list[str]
    scrapes: dict[str, Scrape]
    """By API: a scrape from a collection that began after ``before`` was read."""
    before: dict[str, Usage]
    """Kernel figures of every running or paused container, by name, before the scrapes."""
    after: dict[str, Usage]
    """The same, read after the scrapes."""
    inspect: dict[str, dict[str, Any]]
    """``podman inspect`` of every container, by name."""

    @property
    def env(self) -> PodmanEnv:
        """Return the private Podman."""
        return self.zoo.env

    def status(self, name: str) -> str:
        """Return ``State.Status`` of the container."""
        return str(self.inspect[name]["State"]["Status"])

    def running(self) -> list[str]:
        """Return the names of the running containers (infra containers included)."""
        return sorted(n for n in self.before if self.status(n) == "running")


@contextmanager
def truth_world(logs: Path) -> Iterator[World]:
    """Yield the zoo with its work done and both exporters' observation of it."""
    from podman_exporter.podman.bridge import make_server

    with private_podman("pe-truth-") as env:
        address = f"unix:{env.base / 'varlink.sock'}"
        # The bridge measures sizes in the background, here every second.
        server = make_server(address, env.url, timeout=10.0, connections=4, sizes_interval=1.0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        flag = ["--collector.sizes.interval", "1s"]
        exporters = {
            "rest": Exporter(["--podman.api", "rest", "--podman.url", env.url, *flag],
                             logs / "rest.log"),
            "varlink": Exporter(["--podman.api", "varlink", "--podman.url", address, *flag],
                                logs / "varlink.log"),
        }
        recorders = {api: UptimeRecorder(exp) for api, exp in exporters.items()}
        try:
            for exp in exporters.values():
                exp.wait_for(lambda s: sample(s, "podman_up") == 1, "podman_up 1")
            for recorder in recorders.values():
                recorder.start()
            zoo = build(env)
            yield observe(zoo, exporters, recorders, flag)
        finally:
            for recorder in recorders.values():
                recorder.stop()
            for exp in exporters.values():
                exp.stop()
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)


def observe(zoo: Zoo, exporters: dict[str, Exporter], recorders: dict[str, UptimeRecorder],
            flag: list[str]) -> World:
    """Return the World: kernel figures, a scrape per API from a collection that began
    after they were read, the figures again, and ``podman inspect`` of everything."""
    env = zoo.env
    ps = json.loads(env.podman("ps", "-a", "--format", "json"))
    live = {c["Names"][0]: int(c["Pid"]) for c in ps if c["State"] in ("running", "paused")}
    before = {name: read_usage(pid) for name, pid in live.items()}
    read_at = time.time()
    assert read_at > zoo.work_done_at
    scrapes: dict[str, Scrape] = {}
    for api, exp in exporters.items():
        first = exp.wait_for(lambda s: (sample(s, COLLECTED) or 0) > read_at,
                             "a collection that ended after the kernel was read")
        # Collections never overlap: the next one began after ``first`` ended.
        scrapes[api] = exp.next_collection(first)
    after = {name: read_usage(pid) for name, pid in live.items()}
    names = [c["Names"][0] for c in ps]
    inspected = {c["Name"]: c for c in json.loads(env.podman("inspect", *names))}
    return World(zoo, exporters, recorders, flag, scrapes, before, after, inspected)


# --- helpers ----------------------------------------------------------------------


def series(scrape: Scrape, metric: str, name: str) -> float | None:
    """Return the value of ``metric`` for the container ``name``, None when absent."""
    return sample(scrape, metric, name=name)


def fmt(x: float | None) -> str:
    """Return ``x`` with thousands separators (None as 'absent')."""
    if x is None:
        return "absent"
    return f"{x:,.9f}".rstrip("0").rstrip(".") if x != int(x) else f"{int(x):,}"


def check_window(problems: list[str], label: str, got: float | None,
                 window: tuple[float, float], slack: float = 0.0) -> None:
    """Add a problem unless ``got`` lies between the two truths, give or take ``slack``."""
    low, high = min(window), max(window)
    if got is None or not low - slack <= got <= high + slack:
        truth = fmt(low) if low == high else f"{fmt(low)}..{fmt(high)}"
        problems.append(f"{label}: {fmt(got)} vs truth {truth}")


def report(problems: list[str]) -> None:
    """Fail with every problem, one a line."""
    assert not problems, "\n" + "\n".join(problems)


def check_equal(problems: list[str], label: str, got: float | None, truth: float) -> None:
    """Add a problem unless ``got`` is ``truth``."""
    check_window(problems, label, got, (truth, truth))


def resource_check(world: World, api: str, metric: str, field: str, names: list[str],
                   *, scale: float = 1.0, slack: float = 0.0) -> list[str]:
    """Return the problems of ``metric`` against Usage.``field`` / ``scale`` for ``names``."""
    problems: list[str] = []
    scrape = world.scrapes[api]
    for name in names:
        lo = getattr(world.before[name], field)
        hi = getattr(world.after[name], field)
        if lo is None or hi is None:
            problems.append(f"{name}: no ground truth for {field}")
            continue
        check_window(problems, f"{api} {name} {metric}", series(scrape, metric, name),
                     (lo / scale, hi / scale), slack)
    return problems


