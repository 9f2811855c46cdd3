"""The control interface from a client, and the simulator's command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import varlink

from podman_exporter.podman.interface import strict_interface
from podman_exporter.sim import (
    CONTROL_INTERFACE,
    SimOptions,
    SimulatorHandle,
    control_interface,
    start_simulator,
)

PODMAN = "io.projectatomic.podman"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorHandle]:
    frozen = 10.0
    handle = start_simulator(
        f"unix:{tmp_path / 'podman.sock'}",
        SimOptions(containers=30, images=8, seed=9, clock=lambda: frozen),
    )
    yield handle
    handle.stop()


def clients(address: str) -> tuple[Any, Any]:
    client = varlink.Client(address=address)
    client.add_interface(strict_interface())
    client.add_interface(control_interface())
    return client.open(PODMAN), client.open(CONTROL_INTERFACE)


def test_faults_set_merge_and_clear(sim: SimulatorHandle) -> None:
    podman, control = clients(sim.address)
    faults = control.SetFaults({"latency_ms": 5, "error_rates": {"Ping": 1.0}})["faults"]
    assert faults["latency_ms"] == 5.0
    faults = control.SetFaults({"error_kind": "RuntimeError"})["faults"]
    assert (faults["latency_ms"], faults["error_rates"]) == (5.0, {"Ping": 1.0})
    with pytest.raises(varlink.VarlinkError) as info:
        podman.Ping()
    assert info.value.error() == f"{PODMAN}.RuntimeError"
    control.ClearFaults()
    assert podman.Ping() == {"ping": {"message": "OK"}}
    with pytest.raises(varlink.VarlinkError) as info:
        control.SetFaults({"drop_rates": {"Nope": 1.0}})
    assert info.value.error() == f"{CONTROL_INTERFACE}.InvalidValue"


def test_container_state_and_summary(sim: SimulatorHandle) -> None:
    podman, control = clients(sim.address)
    name = sim.fleet.containers_in("running")[0]
    control.SetContainerState(name, "exited", 3)
    record = podman.GetContainer(name)["container"]
    assert (record["status"], record["containerrunning"]) == ("exited", False)
    assert sim.fleet.find(name).exit_code == 3
    summary = control.GetSummary()["summary"]
    assert summary["containers"] == 30
    assert sum(summary["states"].values()) == 30
    assert summary["calls"][f"{PODMAN}.GetContainer"] == 1
    with pytest.raises(varlink.VarlinkError) as info:
        control.SetContainerState(name, "dancing", None)
    assert info.value.error() == f"{CONTROL_INTERFACE}.InvalidValue"
    with pytest.raises(varlink.VarlinkError) as info:
        control.SetContainerState("ghost", "running", None)
    assert info.value.error() == f"{CONTROL_INTERFACE}.ContainerNotFound"


def test_add_and_remove_containers(sim: SimulatorHandle) -> None:
    podman, control = clients(sim.address)
    ids = control.AddContainers(5, None)["ids"]
    listed = {c["id"] for c in podman.ListContainers()["containers"]}
    assert set(ids) <= listed
    assert len(listed) == 35
    removed = control.RemoveContainers(ids[:2])["ids"]
    assert removed == ids[:2]
    with pytest.raises(varlink.VarlinkError) as info:
        podman.GetContainerStats(ids[0])
    assert info.value.error() == f"{PODMAN}.ContainerNotFound"


def test_memory_near_limit_and_cpu_busy(sim: SimulatorHandle) -> None:
    podman, control = clients(sim.address)
    name = sim.fleet.containers_in("running")[0]
    control.SetMemoryNearLimit(name, 0.95)
    control.SetCpuBusy(name, True)
    before = podman.GetContainerStats(name)["container"]
    assert before["mem_usage"] / before["mem_limit"] > 0.9
    assert before["mem_usage"] < before["mem_limit"]
    assert control.AdvanceClock(10.0) == {"offset": 10.0}
    after = podman.GetContainerStats(name)["container"]
    assert after["cpu_nano"] - before["cpu_nano"] == pytest.approx(15e9, rel=0.01)


def test_churn_through_control(sim: SimulatorHandle) -> None:
    _, control = clients(sim.address)
    control.SetChurn(10.0)
    control.AdvanceClock(60.0)
    summary = control.GetSummary()["summary"]
    assert summary["created_total"] == 5
    assert summary["removed_total"] == 5


def test_cli_serves_until_sigterm_and_removes_socket(tmp_path: Path) -> None:
    path = tmp_path / "cli.sock"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "podman_exporter.sim",
            "--socket",
            str(path),
            "--containers",
            "25",
            "--images",
            "5",
            "--latency",
            "1ms",
        ],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert "listening on" in proc.stdout.readline()
        podman, control = clients(f"unix:{path}")
        assert len(podman.ListContainers()["containers"]) == 25
        assert control.GetFaults()["faults"]["latency_ms"] == pytest.approx(1.0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not path.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--latency", "fast"), ("--containers", "-3"), ("--error-rate", "1.5"), ("--churn", "x")],
)
def test_cli_bad_value_one_line_exit_2(tmp_path: Path, flag: str, value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "podman_exporter.sim", "--socket", str(tmp_path / "s"), flag, value],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert flag in lines[0]
