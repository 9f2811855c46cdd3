"""TRUTH: containers doing known work, every exported value against the kernel and Podman.

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

import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from exporter_proc import Exporter, Scrape
from podman_env import PodmanEnv, private_podman
from truth_zoo import (
    HELD_BYTES,
    MEMORY_LIMIT,
    READ_BYTES,
    RW_FILE_BYTES,
    SERVED_BYTES,
    SLEEPERS,
    WRITTEN_BYTES,
    UptimeRecorder,
    Usage,
    Zoo,
    build,
    mem_total_bytes,
    own_bridge,
    read_usage,
    sample,
    unix_time,
)

from podman_exporter.snapshot.model import ContainerState, Health, PodState

pytestmark = pytest.mark.realpodman

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


def sizes_flag() -> list[str]:
    """Return the arguments that make the exporter collect container sizes every second,
    if ``podman-exporter --help`` has such a flag (``--collector.sizes.interval``)."""
    exe = shutil.which("podman-exporter") or str(Path(sys.executable).with_name(
        "podman-exporter"))
    help_text = subprocess.run([exe, "--help"], capture_output=True, text=True,
                               check=True, timeout=60).stdout
    found = re.search(r"(--collect(?:or)?\.[\w.-]*size[\w.-]*) DURATION", help_text)
    return [found[1], "1s"] if found else []


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Return the zoo with its work done and both exporters' observation of it."""
    from podman_exporter.podman.bridge import make_server

    logs = tmp_path_factory.mktemp("truth")
    with private_podman("pe-truth-") as env:
        own_bridge(env)
        address = f"unix:{env.base / 'varlink.sock'}"
        # The bridge measures sizes in the background (REST lists are cheap without them).
        every = ({"sizes_interval": 1.0}
                 if "sizes_interval" in inspect.signature(make_server).parameters else {})
        server = make_server(address, env.url, timeout=10.0, connections=4, **every)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        flag = sizes_flag()
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


@pytest.fixture(params=APIS)
def api(request: pytest.FixtureRequest) -> str:
    """Return the API of the exporter under test."""
    return str(request.param)


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


# --- resource usage of running containers --------------------------------------------


def test_cpu_seconds(world: World, api: str) -> None:
    """podman_container_cpu_seconds_total == cpuacct.usage / 1e9 (1 ns of float slack)."""
    burner = world.zoo.name("burner")
    assert world.before[burner].cpu_ns >= 0.3 * NS, "the burner did not burn"
    assert world.after[burner].cpu_ns == world.before[burner].cpu_ns, "the burner still burns"
    report(resource_check(world, api, "podman_container_cpu_seconds_total", "cpu_ns",
                          world.running(), scale=NS, slack=1 / NS))


def test_cpu_system_seconds(world: World, api: str) -> None:
    """podman_container_cpu_system_seconds_total == cpuacct.usage_sys / 1e9."""
    burner = world.zoo.name("burner")
    assert world.before[burner].cpu_sys_ns >= 0.1 * NS, "the burner made no system calls"
    report(resource_check(world, api, "podman_container_cpu_system_seconds_total",
                          "cpu_sys_ns", world.running(), scale=NS, slack=1 / NS))


def test_memory_usage(world: World, api: str) -> None:
    """podman_container_mem_usage_bytes == memory.usage_in_bytes, nothing subtracted."""
    holder = world.zoo.name("holder")
    assert world.before[holder].mem_stat["shmem"] >= HELD_BYTES, "the holder holds nothing"
    problems = resource_check(world, api, "podman_container_mem_usage_bytes", "mem_usage",
                              world.running())
    got = series(world.scrapes[api], "podman_container_mem_usage_bytes", holder)
    if got is not None and got < HELD_BYTES:
        problems.append(f"{api} {holder}: {fmt(got)} < the {fmt(HELD_BYTES)} bytes it holds")
    report(problems)


def test_memory_limit(world: World, api: str) -> None:
    """podman_container_mem_limit_bytes == min(memory.limit_in_bytes, MemTotal)."""
    holder = world.zoo.name("holder")
    assert world.before[holder].mem_limit == MEMORY_LIMIT
    report(resource_check(world, api, "podman_container_mem_limit_bytes", "mem_limit",
                          world.running()))


def test_block_io(world: World, api: str) -> None:
    """block input/output == Read/Write of blkio.throttle.io_service_bytes_recursive."""
    blockio = world.before[world.zoo.name("blockio")]
    assert WRITTEN_BYTES <= blockio.blk_write <= WRITTEN_BYTES + 2**20, blockio
    assert READ_BYTES <= blockio.blk_read <= READ_BYTES + 2**20, blockio
    names = world.running()
    report(resource_check(world, api, "podman_container_block_input_total", "blk_read", names)
           + resource_check(world, api, "podman_container_block_output_total", "blk_write",
                            names))


def test_network(world: World, api: str) -> None:
    """net input/output == eth0 rx/tx bytes of /proc/<pid>/net/dev; the client received
    the served bytes and sent few, the server the other way round."""
    scrape = world.scrapes[api]
    client, server = world.zoo.name("client"), world.zoo.name("server")
    c, s = world.before[client], world.before[server]
    assert c.net_rx is not None and s.net_tx is not None and c.net_tx is not None
    assert c.net_rx >= SERVED_BYTES and s.net_tx >= SERVED_BYTES
    assert c.net_tx < SERVED_BYTES / 10, "the client sent more than acknowledgements"
    names = world.running()
    problems = (resource_check(world, api, "podman_container_net_input_total", "net_rx", names)
                + resource_check(world, api, "podman_container_net_output_total", "net_tx",
                                 names))
    for name, big, small in ((client, "input", "output"), (server, "output", "input")):
        got_big = series(scrape, f"podman_container_net_{big}_total", name)
        got_small = series(scrape, f"podman_container_net_{small}_total", name)
        if got_big is None or got_big < SERVED_BYTES:
            problems.append(f"{api} {name}: net {big} {fmt(got_big)} < the "
                            f"{fmt(SERVED_BYTES)} bytes served")
        if got_small is None or got_small >= SERVED_BYTES / 10:
            problems.append(f"{api} {name}: net {small} {fmt(got_small)} is not ≪ "
                            f"{fmt(SERVED_BYTES)}")
    report(problems)


def test_pids(world: World, api: str) -> None:
    """podman_container_pids == pids.current; the pids container runs a shell + 5 sleeps."""
    assert world.before[world.zoo.name("pids")].pids == SLEEPERS + 1
    report(resource_check(world, api, "podman_container_pids", "pids", world.running()))


def test_paused_container_series(world: World, api: str) -> None:
    """A paused container keeps its resource series, equal to its frozen cgroup."""
    name = world.zoo.name("paused")
    assert world.status(name) == "paused"
    frozen, later = world.before[name], world.after[name]
    fields = ("cpu_ns", "cpu_sys_ns", "mem_usage", "mem_limit", "pids", "blk_read",
              "blk_write")
    # Frozen: these cgroup figures stand still (the netns still receives broadcasts).
    assert [getattr(later, f) for f in fields] == [getattr(frozen, f) for f in fields]
    assert frozen.cpu_ns >= 0.1 * NS and frozen.mem_stat["shmem"] >= 5 * 2**20
    problems: list[str] = []
    for metric, field, scale in (
            ("podman_container_cpu_seconds_total", "cpu_ns", NS),
            ("podman_container_cpu_system_seconds_total", "cpu_sys_ns", NS),
            ("podman_container_mem_usage_bytes", "mem_usage", 1),
            ("podman_container_mem_limit_bytes", "mem_limit", 1),
            ("podman_container_pids", "pids", 1),
            ("podman_container_net_input_total", "net_rx", 1),
            ("podman_container_net_output_total", "net_tx", 1),
            ("podman_container_block_input_total", "blk_read", 1),
            ("podman_container_block_output_total", "blk_write", 1)):
        problems += resource_check(world, api, metric, field, [name], scale=scale,
                                   slack=1 / NS if scale == NS else 0)
    report(problems)


# --- container state, exit codes, times, health, pods, sizes ------------------------


GO_STATE = {"unknown": -1, "created": 0, "initialized": 1, "running": 2, "stopped": 3,
            "paused": 4, "exited": 5, "removing": 6, "stopping": 7}
"""podman_container_state of each Podman status word, as prometheus-podman-exporter has it."""


def test_container_state(world: World, api: str) -> None:
    """podman_container_state == inspect State.Status, in the Go exporter's numbering
    (which ContainerState must have too); podman_container_info carries the short id
    and the image name."""
    scrape = world.scrapes[api]
    statuses = {world.status(n) for n in world.inspect}
    assert {"created", "initialized", "running", "paused", "exited"} <= statuses
    problems: list[str] = []
    enum = {m.name.lower(): int(m) for m in ContainerState}
    if enum != GO_STATE:
        problems.append(f"ContainerState is {enum}, not the Go numbering {GO_STATE}")
    for name, ins in sorted(world.inspect.items()):
        word = str(ins["State"]["Status"])
        check_equal(problems, f"{api} {name} state ({word})",
                    series(scrape, "podman_container_state", name), GO_STATE[word])
        info = sample(scrape, "podman_container_info", name=name, id=str(ins["Id"])[:12],
                      image=str(ins["ImageName"]))
        if info != 1:
            problems.append(f"{api} {name}: no podman_container_info with id "
                            f"{str(ins['Id'])[:12]} and image {ins['ImageName']}")
    report(problems)


def test_exit_codes(world: World, api: str) -> None:
    """podman_container_exit_code == inspect State.ExitCode (REST); absent on varlink."""
    scrape = world.scrapes[api]
    codes = {n: int(i["State"]["ExitCode"]) for n, i in world.inspect.items()}
    zoo = world.zoo
    assert [codes[zoo.name(r)] for r in ("exit0", "exit3", "killed")] == [0, 3, 137]
    if api == "varlink":
        assert "podman_container_exit_code" not in scrape
        return
    problems: list[str] = []
    for name, code in sorted(codes.items()):
        check_equal(problems, f"{api} {name} exit code",
                     series(scrape, "podman_container_exit_code", name), code)
    report(problems)


def test_container_times(world: World, api: str) -> None:
    """created/started/exited seconds == inspect Created/StartedAt/FinishedAt to the
    second (Podman's list has whole seconds); started/exited are absent until they
    happened, and on varlink."""
    scrape = world.scrapes[api]
    problems: list[str] = []
    for name, ins in sorted(world.inspect.items()):
        state = ins["State"]
        truths = [("created", unix_time(str(ins["Created"])))]
        for metric, key in (("started", "StartedAt"), ("exited", "FinishedAt")):
            truths.append((metric, None if api == "varlink" or state[key] == ZERO_TIME
                           else unix_time(str(state[key]))))
        for metric, truth in truths:
            got = series(scrape, f"podman_container_{metric}_seconds", name)
            if truth is None:
                if got is not None:
                    problems.append(f"{api} {name}: {metric} {fmt(got)} should be absent")
            elif got is None or abs(got - truth) >= 1:
                problems.append(f"{api} {name}: {metric} {fmt(got)} vs truth {fmt(truth)}")
    report(problems)


def test_health(world: World, api: str) -> None:
    """podman_container_health == inspect State.Health.Status (REST); absent on varlink."""
    scrape = world.scrapes[api]
    words = {n: str((i["State"].get("Health") or {}).get("Status") or "")
             for n, i in world.inspect.items()}
    zoo = world.zoo
    assert [words[zoo.name(r)] for r in ("healthy", "unhealthy", "starting")] == [
        "healthy", "unhealthy", "starting"]
    if api == "varlink":
        assert "podman_container_health" not in scrape
        return
    problems: list[str] = []
    for name, word in sorted(words.items()):
        want = Health[word.upper()] if word else Health.UNKNOWN
        check_equal(problems, f"{api} {name} health ({word or 'no check'})",
                     series(scrape, "podman_container_health", name), want)
    report(problems)


def test_pod(world: World, api: str) -> None:
    """podman_pod_* == ``podman pod ps``; pod_id/pod_name on the containers' series
    (REST). On varlink the pod families are absent and the pod labels empty."""
    scrape = world.scrapes[api]
    pods = {p["Name"]: p for p in json.loads(world.env.podman("pod", "ps", "--format", "json"))}
    pod = pods[world.zoo.pod]
    members = {c["Names"] for c in pod["Containers"]}
    assert {world.zoo.name("pod_a"), world.zoo.name("pod_b")} < members
    problems: list[str] = []
    if api == "varlink":
        present = [m for m in ("podman_pod_info", "podman_pod_state", "podman_pod_containers")
                   if m in scrape]
        if present:
            problems.append(f"varlink has {present}")
    else:
        name = pod["Name"]
        if sample(scrape, "podman_pod_info", name=name, id=pod["Id"][:12],
                  infra_id=pod["InfraId"][:12]) != 1:
            problems.append(f"rest: no podman_pod_info with id {pod['Id'][:12]} and infra_id "
                            f"{pod['InfraId'][:12]}")
        want = PodState[str(pod["Status"]).upper()]
        check_equal(problems, f"rest pod {name} state ({pod['Status']})",
                     sample(scrape, "podman_pod_state", name=name), want)
        check_equal(problems, f"rest pod {name} containers",
                    sample(scrape, "podman_pod_containers", name=name), len(pod["Containers"]))
    container_metrics = sorted(m for m in scrape if m.startswith("podman_container_"))
    assert "podman_container_cpu_seconds_total" in container_metrics
    for name in sorted(world.inspect):
        in_pod = api == "rest" and name in members
        labels = {"pod_id": pod["Id"][:12] if in_pod else "",
                  "pod_name": pod["Name"] if in_pod else ""}
        for metric in container_metrics:
            for s in scrape[metric]:
                got = {k: s.labels.get(k) for k in labels}
                if s.labels.get("name") == name and got != labels:
                    problems.append(f"{api} {name} {metric}: pod labels {got} vs truth {labels}")
    report(problems)


def test_container_sizes(world: World, api: str) -> None:
    """rootfs and rw sizes == ``podman ps -a --size``; the sizer wrote 1,000,000 bytes.

    Sizes are measured on their own, slower schedule (every second here: the exporter's
    sizes flag, the bridge's sizes_interval), so a measurement taken before the last
    change (``podman init`` creates files in the rw layer) may still be served: the
    sizes must equal the truth within 10 s of collections.
    """
    exp = world.exporters[api]
    sizes = {c["Names"][0]: c["Size"] for c in json.loads(
        world.env.podman("ps", "-a", "--size", "--format", "json"))}
    sizer = sizes[world.zoo.name("sizer")]
    assert RW_FILE_BYTES <= sizer["rwSize"] < RW_FILE_BYTES + 4096, sizer
    metrics = (("podman_container_rootfs_size_bytes", "rootFsSize"),
               ("podman_container_rw_size_bytes", "rwSize"))

    def mismatches(scrape: Scrape) -> list[str]:
        problems: list[str] = []
        for name in sorted(world.inspect):
            for metric, key in metrics:
                check_equal(problems, f"{api} {name} {key}", series(scrape, metric, name),
                            sizes[name][key])
        return problems

    scrape = world.scrapes[api]
    deadline = time.monotonic() + 10
    while mismatches(scrape) and time.monotonic() < deadline:
        scrape = exp.next_collection(scrape)
    problems = mismatches(scrape)
    if problems and not world.sizes_flag:
        problems.append("(podman-exporter --help has no flag to collect sizes more often)")
    report(problems)


# --- images and host ------------------------------------------------------------------


def test_image_size(world: World, api: str) -> None:
    """podman_image_size == ``podman images`` Size == ``podman image inspect`` Size."""
    scrape = world.scrapes[api]
    images = json.loads(world.env.podman("images", "--format", "json"))
    assert len(images) >= 3
    problems: list[str] = []
    for image in images:
        size = int(image["Size"])
        inspected = int(world.env.podman("image", "inspect", "--format", "{{.Size}}",
                                         image["Id"]).strip())
        assert inspected == size, image["Names"]
        short = image["Id"][:12]
        found = [s for s in scrape.get("podman_image_size", []) if s.labels["id"] == short]
        if not found:
            problems.append(f"{api} image {image['Names']}: no podman_image_size")
        for s in found:
            check_equal(problems, f"{api} image {image['Names']} size", float(s.value), size)
    blob = next(i for i in images if "localhost/truth-blob:2mb" in i["Names"])
    assert int(blob["Size"]) >= 2_000_000
    report(problems)


def test_image_containers(world: World, api: str) -> None:
    """podman_image_containers == ``podman images`` Containers."""
    scrape = world.scrapes[api]
    problems: list[str] = []
    for image in json.loads(world.env.podman("images", "--format", "json")):
        short, want = image["Id"][:12], int(image["Containers"])
        found = [s for s in scrape.get("podman_image_containers", [])
                 if s.labels["id"] == short]
        if not found:
            problems.append(f"{api} image {image['Names']}: no podman_image_containers")
        for s in found:
            check_equal(problems, f"{api} image {image['Names']} containers",
                         float(s.value), want)
    report(problems)


def test_host_uptime(world: World, api: str) -> None:
    """podman_host_uptime_seconds == /proc/uptime at the collection, at collections in
    both halves of a minute (Podman 4.3 rounds the minutes of its uptime text).

    Tolerance, all of it timing: Podman's text has whole seconds (truncated), and it
    was read at some moment of the collection, which ended at the collection
    timestamp and lasted at most the sum of the collectors' durations (``spent``,
    about 0.5 s when the host is idle). An estimate made from such readings may
    be off by their resolution either way: |value - uptime at the end| <= 1 s + spent,
    plus 0.25 s for the gaps between collectors and the two clocks read here.
    """
    recorder = world.recorders[api]

    def halves() -> set[bool]:
        return {s.truth % 60 >= 30 for s in recorder.samples if 2 < s.truth % 30 < 28}

    deadline = time.monotonic() + 35
    while len(halves()) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(halves()) == 2, "no collection seen in both halves of a minute"
    problems: list[str] = []
    samples = list(recorder.samples)
    for s in samples:
        low, high = s.truth - s.spent - 1.25, s.truth + s.spent + 1.25
        if s.exported is None or not low <= s.exported <= high:
            problems.append(f"{api} uptime {fmt(s.exported)} vs truth {low:,.2f}..{high:,.2f}"
                            f" (seconds part {s.truth % 60:.0f})")
    report([f"{len(problems)} of {len(samples)} collections wrong", *problems[:8]]
           if problems else [])


def test_host_memory_and_cpus(world: World, api: str) -> None:
    """podman_host_memory_total_bytes == MemTotal; podman_host_cpus == os.cpu_count()."""
    scrape = world.scrapes[api]
    problems: list[str] = []
    total = mem_total_bytes()
    check_equal(problems, f"{api} memory total", sample(scrape,
                 "podman_host_memory_total_bytes"), total)
    cpus = os.cpu_count() or 0
    check_equal(problems, f"{api} cpus", sample(scrape, "podman_host_cpus"), cpus)
    report(problems)
