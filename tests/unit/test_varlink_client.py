"""The varlink backend against the simulated service over a real unix socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from podman_exporter.podman.backend import NotFound, PartialFailure, PodmanUnavailable
from podman_exporter.podman.varlink_client import VarlinkBackend
from podman_exporter.sim import Faults, SimOptions, SimulatorHandle, start_simulator
from podman_exporter.snapshot.model import ContainerState


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorHandle]:
    with start_simulator(f"unix:{tmp_path}/podman.sock", SimOptions(containers=30, images=8,
                                                                     seed=7)) as handle:
        yield handle


@pytest.fixture
def backend(sim: SimulatorHandle) -> Iterator[VarlinkBackend]:
    client = VarlinkBackend(sim.address, timeout=0.5, connections=4)
    yield client
    client.close()


def test_lists_match_the_fleet(sim: SimulatorHandle, backend: VarlinkBackend) -> None:
    containers = backend.list_containers()
    assert containers.bad == 0
    assert sorted(c.id for c in containers.items) == sorted(sim.fleet.ids())
    running = [c for c in containers.items if c.state == ContainerState.RUNNING]
    assert running and all(c.created and c.created > 1e9 for c in containers.items)
    stats = backend.container_stats([c.id for c in running])
    assert {s.id for s in stats.items} == {c.id for c in running}
    assert all(s.cpu_seconds is not None and s.mem_usage_bytes for s in stats.items)
    images = backend.list_images()
    assert len(images.items) == 8 and all(i.size_bytes for i in images.items)
    host = backend.host_info().items[0]
    assert host.mem_total_bytes and host.cpus
    [(low, high)] = host.uptime_ranges  # the 2018 text is exact: one zero-width range
    assert low == high > 600
    assert host.version.version  # from GetVersion: podman_version was never filled
    assert host.swap_total_bytes is None  # never filled by the service


def test_counters_grow(sim: SimulatorHandle, backend: VarlinkBackend) -> None:
    cid = next(c.id for c in backend.list_containers().items
               if c.state == ContainerState.RUNNING)
    first = backend.container_stats([cid]).items[0]
    time.sleep(0.3)
    second = backend.container_stats([cid]).items[0]
    assert first.cpu_seconds is not None and second.cpu_seconds is not None
    assert second.cpu_seconds > first.cpu_seconds


def test_vanished_container_is_skipped(sim: SimulatorHandle, backend: VarlinkBackend) -> None:
    running = [c.id for c in backend.list_containers().items
               if c.state == ContainerState.RUNNING][:3]
    sim.fleet.remove(running[0], force=True)
    stats = backend.container_stats(running)
    assert {s.id for s in stats.items} == set(running[1:])


def test_not_found_action(backend: VarlinkBackend) -> None:
    with pytest.raises(NotFound):
        backend.stop_container("no-such-container", 1)


def test_get_info_falls_back_to_info(sim: SimulatorHandle, backend: VarlinkBackend) -> None:
    sim.faults.set(Faults(seed_naming=True))
    assert backend.host_info().items[0].mem_total_bytes
    assert sim.calls().get("io.projectatomic.podman.Info", 0) == 1


def test_null_lists_are_empty(sim: SimulatorHandle, backend: VarlinkBackend) -> None:
    sim.faults.set(Faults(null_lists=True))
    sim.fleet.delete_stopped()
    for cid in sim.fleet.ids():
        sim.fleet.remove(cid, force=True)
    assert backend.list_containers().items == ()


def test_malformed_records_cost_only_themselves(sim: SimulatorHandle,
                                                backend: VarlinkBackend) -> None:
    sim.faults.set(Faults(malformed_rate=0.3))
    batch = backend.list_containers()
    assert 0 < batch.bad < 30
    assert len(batch.items) >= 30 - batch.bad  # damaged records are kept or dropped one by one


def test_hung_service_costs_one_timeout(sim: SimulatorHandle, backend: VarlinkBackend) -> None:
    ids = sim.fleet.containers_in("running")
    sim.faults.set(Faults(hang_rates={"*": 1.0}))
    started = time.monotonic()
    with pytest.raises(PodmanUnavailable):
        backend.container_stats(ids)
    with pytest.raises(PodmanUnavailable):
        backend.list_containers()
    elapsed = time.monotonic() - started
    # two timeouts of 0.5 s, not one per container
    assert elapsed < 0.5 * len(ids) / 4
    sim.faults.set(Faults())
    assert backend.list_containers().items  # broken connections were replaced


def test_partial_stats_failure_keeps_the_rest(sim: SimulatorHandle,
                                              backend: VarlinkBackend) -> None:
    ids = sim.fleet.containers_in("running")
    sim.faults.set(Faults(error_rates={"GetContainerStats": 0.5}))
    with pytest.raises(PartialFailure) as caught:
        backend.container_stats(ids * 3)
    assert 0 < len(caught.value.batch.items) < len(ids) * 3


def test_dropped_connection_is_replaced(sim: SimulatorHandle, backend: VarlinkBackend) -> None:
    sim.faults.set(Faults(drop_rates={"ListImages": 1.0}))
    with pytest.raises(PodmanUnavailable):
        backend.list_images()
    sim.faults.set(Faults())
    assert backend.list_images().items


def test_service_gone_and_back(tmp_path: Path) -> None:
    address = f"unix:{tmp_path}/p.sock"
    backend = VarlinkBackend(address, timeout=0.5)
    with pytest.raises(PodmanUnavailable):
        backend.ping()
    with start_simulator(address, SimOptions(containers=2)):
        backend.ping()
    with pytest.raises(PodmanUnavailable):
        backend.ping()
    with start_simulator(address, SimOptions(containers=2)):
        assert len(backend.list_containers().items) == 2
    backend.close()


def test_bridge_command(sim: SimulatorHandle) -> None:
    """``--podman.bridge``: a command speaking varlink on stdio, as ``ssh host -- varlink
    bridge`` does; here the varlink package's own bridge to the simulator's socket."""
    import shlex
    import sys

    command = shlex.join([sys.executable, "-m", "varlink.cli", "bridge", "--connect",
                          sim.address])
    backend = VarlinkBackend(None, bridge=command, timeout=5.0, connections=2)
    try:
        assert sorted(c.id for c in backend.list_containers().items) == sorted(sim.fleet.ids())
        assert backend.host_info().items[0].mem_total_bytes
    finally:
        backend.close()


def test_failed_stop_returns_the_connection_with_its_usual_timeout(
        backend: VarlinkBackend) -> None:
    """A stop's long timeout (timeout + the stop's grace) must not outlive the call: a failed
    stop's connection goes back to the pool, and the next call on it would otherwise wait
    minutes on a hung Podman."""
    for _ in range(2):  # failed and, on the pooled connection, failed again
        with pytest.raises(NotFound):
            backend.stop_container("no-such-container", 300)
        idle = backend._pool._idle
        assert len(idle) == 1
        assert idle[0]._connection.gettimeout() == 0.5
    backend.list_containers()  # the same connection still serves
    assert backend._pool._idle[0]._connection.gettimeout() == 0.5
