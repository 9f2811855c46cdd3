"""Truth: resource usage of running and paused containers against their cgroup files and
/proc (see truth_world.py for the method and tolerances)."""

from __future__ import annotations

import pytest
from truth_world import NS, World, fmt, report, resource_check, series
from truth_zoo import (
    HELD_BYTES,
    MEMORY_LIMIT,
    READ_BYTES,
    SERVED_BYTES,
    SLEEPERS,
    WRITTEN_BYTES,
)

pytestmark = pytest.mark.realpodman


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
    """Block input/output == Read/Write of blkio.throttle.io_service_bytes_recursive."""
    blockio = world.before[world.zoo.name("blockio")]
    assert WRITTEN_BYTES <= blockio.blk_write <= WRITTEN_BYTES + 2**20, blockio
    assert READ_BYTES <= blockio.blk_read <= READ_BYTES + 2**20, blockio
    names = world.running()
    report(resource_check(world, api, "podman_container_block_input_total", "blk_read", names)
           + resource_check(world, api, "podman_container_block_output_total", "blk_write",
                            names))


def test_network(world: World, api: str) -> None:
    """Net input/output == eth0 rx/tx bytes of /proc/<pid>/net/dev; the client received
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
    fields = ("cpu_ns", "cpu_sys_ns", "mem_limit", "pids", "blk_read", "blk_write")
    # Frozen: these cgroup figures stand still. Not the network counters (the netns
    # still receives broadcasts) nor memory usage (the kernel charges the buffers of
    # those packets to the cgroup): those are checked within the before/after window.
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
