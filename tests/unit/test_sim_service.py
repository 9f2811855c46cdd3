"""The simulator over a real unix socket, read with the strict interface."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import varlink

from podman_exporter.podman.interface import strict_interface
from podman_exporter.podman.select import first_reply_byte, speaks_varlink
from podman_exporter.sim import SimOptions, SimulatorHandle, start_simulator

PODMAN = "io.projectatomic.podman"


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.t = 50.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(tmp_path: Path, clock: FakeClock) -> Iterator[SimulatorHandle]:
    options = SimOptions(containers=60, images=12, seed=3, clock=clock, hostile_names=True)
    handle = start_simulator(f"unix:{tmp_path / 'podman.sock'}", options)
    yield handle
    handle.stop()


@pytest.fixture
def podman(sim: SimulatorHandle) -> Iterator[Any]:
    client = varlink.Client(address=sim.address)
    client.add_interface(strict_interface())
    with client.open(PODMAN) as conn:
        yield conn


STRICT = strict_interface()


def fields(type_name: str) -> set[str]:
    """Return the field names the interface declares for a type."""
    return set(STRICT.members[type_name].type.fields)


def error_of(call: Any, *args: Any) -> tuple[str, dict[str, Any]]:
    with pytest.raises(varlink.VarlinkError) as info:
        call(*args)
    return info.value.error(), info.value.parameters()


def test_replies_conform_to_the_interface(podman: Any) -> None:
    assert podman.Ping() == {"ping": {"message": "OK"}}
    assert set(podman.GetVersion()["version"]) == fields("Version")
    info = podman.GetInfo()["info"]
    assert set(info) == fields("PodmanInfo")
    assert set(info["host"]) == fields("InfoHost")
    assert set(info["store"]) == fields("InfoStore")
    containers = podman.ListContainers()["containers"]
    assert len(containers) == 60
    for c in containers:
        assert set(c) == fields("ListContainerData")
        assert set(c["namespaces"]) == fields("ContainerNameSpace")
        for port in c["ports"]:
            assert set(port) == fields("ContainerPortMappings")
        for mount in c["mounts"]:
            assert set(mount) == fields("ContainerMount")
        stats = podman.GetContainerStats(c["id"])["container"]
        assert set(stats) == fields("ContainerStats")
        assert podman.GetContainer(c["names"])["container"]["id"] == c["id"]
    for image in podman.ListImages()["images"]:
        assert set(image) == fields("ImageInList")


def test_hostile_strings_survive_the_wire(sim: SimulatorHandle, podman: Any) -> None:
    names = {c["names"] for c in podman.ListContainers()["containers"]}
    assert names == {c["names"] for c in sim.fleet.list_containers()}
    assert any("\n" in n or '"' in n or "\\" in n or not n.isascii() for n in names)


def test_counters_grow_with_time(clock: FakeClock, sim: SimulatorHandle, podman: Any) -> None:
    name = sim.fleet.containers_in("running")[0]
    before = podman.GetContainerStats(name)["container"]
    clock.t += 60
    after = podman.GetContainerStats(name)["container"]
    assert after["cpu_nano"] > before["cpu_nano"]
    assert after["net_input"] > before["net_input"]


def test_churn_adds_and_removes(clock: FakeClock, sim: SimulatorHandle, podman: Any) -> None:
    before = {c["id"] for c in podman.ListContainers()["containers"]}
    sim.fleet.set_churn(20)
    clock.t += 90
    after = {c["id"] for c in podman.ListContainers()["containers"]}
    assert after - before
    assert before - after
    vanished = next(iter(before - after))
    assert error_of(podman.GetContainerStats, vanished) == (
        f"{PODMAN}.ContainerNotFound",
        {"name": vanished},
    )


def test_not_found_errors(podman: Any) -> None:
    assert error_of(podman.GetContainer, "ghost")[0] == f"{PODMAN}.ContainerNotFound"
    assert error_of(podman.InspectImage, "ghost") == (f"{PODMAN}.ImageNotFound", {"name": "ghost"})


def test_info_naming_and_not_implemented(podman: Any) -> None:
    assert error_of(podman.Info)[0] == "org.varlink.service.MethodNotFound"
    assert podman.CreateContainer() == {"notimplemented": {"comment": "not implemented"}}


def test_actions_mutate_the_fleet(sim: SimulatorHandle, podman: Any) -> None:
    running = sim.fleet.containers_in("running")
    cid = podman.StopContainer(running[0], 5)["container"]
    assert podman.GetContainer(cid)["container"]["status"] == "exited"
    assert podman.GetContainerStats(cid)["container"]["cpu_nano"] == 0
    assert podman.WaitContainer(cid) == {"exitcode": 0}
    podman.KillContainer(running[1], 15)
    state = json.loads(podman.InspectContainer(running[1])["container"])["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 143)
    assert error_of(podman.KillContainer, running[2], 99)[0] == f"{PODMAN}.ErrorOccurred"
    podman.PauseContainer(running[2])
    assert podman.GetContainer(running[2])["container"]["status"] == "paused"
    podman.UnpauseContainer(running[2])
    podman.RestartContainer(cid, 5)
    assert podman.GetContainer(cid)["container"]["containerrunning"] is True
    assert error_of(podman.RemoveContainer, running[3], False)[0] == f"{PODMAN}.ErrorOccurred"
    podman.RemoveContainer(running[3], True)
    assert error_of(podman.GetContainer, running[3])[0] == f"{PODMAN}.ContainerNotFound"
    assert podman.GetContainerLogs(running[4])["container"]


def test_delete_stopped_and_unused(podman: Any) -> None:
    before = podman.ListContainers()["containers"]
    stopped = {c["id"] for c in before if c["status"] not in ("running", "paused")}
    assert set(podman.DeleteStoppedContainers()["containers"]) == stopped
    assert {c["status"] for c in podman.ListContainers()["containers"]} <= {"running", "paused"}
    images = podman.ListImages()["images"]
    unused = {im["id"] for im in images if im["containers"] == 0}
    assert set(podman.DeleteUnusedImages()["images"]) == unused
    used = podman.ListImages()["images"][0]
    assert error_of(podman.RemoveImage, used["id"], False)[0] == f"{PODMAN}.ErrorOccurred"
    podman.RemoveImage(used["id"], True)
    remaining = podman.ListContainers()["containers"]
    assert all(c["imageid"] != used["id"] for c in remaining)


def test_wait_returns_when_the_container_stops(sim: SimulatorHandle, podman: Any) -> None:
    name = sim.fleet.containers_in("running")[0]
    result: dict[str, Any] = {}

    def wait() -> None:
        client = varlink.Client(address=sim.address)
        client.add_interface(strict_interface())
        with client.open(PODMAN) as conn:
            result.update(conn.WaitContainer(name))

    waiter = threading.Thread(target=wait)
    waiter.start()
    podman.KillContainer(name, 9)
    waiter.join(10)
    assert result == {"exitcode": 137}


def test_stop_removes_socket_and_closes_connections(tmp_path: Path) -> None:
    path = tmp_path / "stale.sock"
    first = start_simulator(f"unix:{path}", SimOptions(containers=3))
    first._server.socket.close()  # killed without clean-up: the file stays behind
    assert path.exists()
    handle = start_simulator(f"unix:{path}", SimOptions(containers=3))
    client = varlink.Client(address=handle.address)
    client.add_interface(strict_interface())
    conn = client.open(PODMAN)
    assert conn.Ping()
    handle.stop()
    assert not path.exists()
    with pytest.raises((ConnectionError, OSError)):
        conn.Ping()
    first.stop()


def test_many_connections_at_once(sim: SimulatorHandle) -> None:
    client = varlink.Client(address=sim.address)
    client.add_interface(strict_interface())
    conns = [client.open(PODMAN) for _ in range(32)]
    try:
        results = []
        threads = [threading.Thread(target=lambda c=c: results.append(c.Ping())) for c in conns]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 32
    finally:
        for c in conns:
            c.close()


def test_the_api_probe_gets_a_varlink_answer(sim: SimulatorHandle) -> None:
    path = sim.address.removeprefix("unix:")
    assert first_reply_byte(path, timeout=60) == b"{"
    assert speaks_varlink(path, timeout=60)
