"""Each fault of the simulator does what it says, seen from a client."""

from __future__ import annotations

import json
import math
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import varlink

from podman_exporter.podman.interface import lenient_interface, strict_interface
from podman_exporter.sim import Faults, SimOptions, SimulatorHandle, start_simulator

PODMAN = "io.projectatomic.podman"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorHandle]:
    frozen = 10.0
    handle = start_simulator(
        f"unix:{tmp_path / 'podman.sock'}",
        SimOptions(containers=40, images=8, seed=5, clock=lambda: frozen),
    )
    yield handle
    handle.stop()


def connect(sim: SimulatorHandle, strict: bool = True, timeout: float | None = None) -> Any:
    client = varlink.Client(address=sim.address)
    client.add_interface(strict_interface() if strict else lenient_interface())
    sock = client.open_connection()
    sock.settimeout(timeout)
    return client.open(PODMAN, connection=sock)


def raw_call(sim: SimulatorHandle, method: str, parameters: dict[str, Any] | None = None) -> bytes:
    """Return every byte the service sends for one call, up to its NUL or EOF."""
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(10)
    sock.connect(sim.address[len("unix:") :])
    request = {"method": f"{PODMAN}.{method}", "parameters": parameters or {}}
    sock.sendall(json.dumps(request).encode() + b"\0")
    data = b""
    while not data.endswith(b"\0"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    return data


def test_latency_delays_replies(sim: SimulatorHandle) -> None:
    conn = connect(sim)
    sim.faults.set(Faults(latency=0.15, jitter=0.05))
    start = time.monotonic()
    conn.Ping()
    assert time.monotonic() - start >= 0.15


def test_errors_per_method_and_kind(sim: SimulatorHandle) -> None:
    conn = connect(sim)
    name = sim.fleet.ids()[0]
    sim.faults.set(Faults(error_rates={"GetContainerStats": 1.0}, error_kind="RuntimeError"))
    with pytest.raises(varlink.VarlinkError) as info:
        conn.GetContainerStats(name)
    assert info.value.error() == f"{PODMAN}.RuntimeError"
    assert conn.GetContainer(name)["container"]["id"] == name
    sim.faults.set(Faults(error_rates={"*": 0.5}))
    failures = 0
    for _ in range(200):
        try:
            conn.Ping()
        except varlink.VarlinkError as exc:
            assert exc.error() == f"{PODMAN}.ErrorOccurred"
            failures += 1
    assert 40 < failures < 160


def test_hang_never_answers(sim: SimulatorHandle) -> None:
    sim.faults.set(Faults(hang_rates={"ListContainers": 1.0}))
    conn = connect(sim, timeout=0.3)
    with pytest.raises(TimeoutError):
        conn.ListContainers()
    assert connect(sim).Ping() == {"ping": {"message": "OK"}}
    sim.faults.set(Faults())
    assert len(connect(sim).ListContainers()["containers"]) == 40


def test_drop_sends_part_of_the_reply_then_closes(sim: SimulatorHandle) -> None:
    whole = raw_call(sim, "ListContainers")
    assert whole.endswith(b"\0")
    sim.faults.set(Faults(drop_rates={"ListContainers": 1.0}))
    part = raw_call(sim, "ListContainers")
    assert 0 < len(part) < len(whole)
    assert not part.endswith(b"\0")
    assert whole.startswith(part)
    with pytest.raises((ConnectionError, OSError, ValueError)):
        connect(sim).ListContainers()


def test_malformed_records_reach_the_client(sim: SimulatorHandle) -> None:
    clean = connect(sim, strict=False).ListContainers()["containers"]
    sim.faults.set(Faults(malformed_rate=1.0))
    broken = connect(sim, strict=False).ListContainers()["containers"]
    assert len(broken) == len(clean)
    assert all(b not in clean for b in broken)
    assert any(
        any(v is None or (isinstance(v, float) and math.isnan(v)) for v in b.values())
        or set(b) != set(clean[0])
        for b in broken
    )
    with pytest.raises(varlink.VarlinkError) as info:
        connect(sim).ListContainers()
    assert info.value.error() == "org.varlink.service.InvalidParameter"


def test_null_lists(sim: SimulatorHandle) -> None:
    sim.faults.set(Faults(null_lists=True))
    for name in sim.fleet.ids():
        sim.fleet.remove(name, force=True)
    reply = json.loads(raw_call(sim, "ListContainers")[:-1])
    assert reply == {"parameters": {"containers": None}}
    assert connect(sim).ListContainers() == {"containers": []}
    info = json.loads(raw_call(sim, "GetInfo")[:-1])
    assert info["parameters"]["info"]["insecure_registries"] is None


def test_seed_naming(sim: SimulatorHandle) -> None:
    conn = connect(sim)
    sim.faults.set(Faults(seed_naming=True))
    with pytest.raises(varlink.VarlinkError) as info:
        conn.GetInfo()
    assert info.value.error() == "org.varlink.service.MethodNotFound"
    assert conn.Info()["info"]["host"]["cpus"] == sim.fleet.cpus


def test_bad_faults_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        Faults(error_rates={"NoSuchMethod": 1.0})
    with pytest.raises(ValueError, match="within"):
        Faults(hang_rates={"*": 2.0})
    with pytest.raises(ValueError, match="error_kind"):
        Faults(error_kind="Boom")
