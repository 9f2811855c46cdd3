"""Truth: states, exit codes, times, health, pods, sizes, images and host against
`podman inspect`, `podman ps --size`, `podman images` and /proc (see truth_world.py)."""

from __future__ import annotations

import json
import os
import time

import pytest
from exporter_proc import Scrape
from truth_world import ZERO_TIME, World, check_equal, fmt, report, series
from truth_zoo import RW_FILE_BYTES, mem_total_bytes, sample, unix_time

from podman_exporter.snapshot.model import ContainerState, Health, PodState

pytestmark = pytest.mark.realpodman


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
        truths: list[tuple[str, float | None]] = [("created", unix_time(str(ins["Created"])))]
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
    """Rootfs and rw sizes == ``podman ps -a --size``; the sizer wrote 1,000,000 bytes.

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
