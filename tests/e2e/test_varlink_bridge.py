"""The varlink bridge against a real Podman, called with the ``varlink`` package's client.

The client pins the strict interface, so every reply is also checked against
the interface's types (a wrong type fails the whole reply with InvalidParameter).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import varlink
from podman_env import IMAGE, PodmanEnv

from podman_exporter.podman.interface import INTERFACE_NAME, strict_interface
from podman_exporter.podman.timeparse import go_time

pytestmark = pytest.mark.realpodman


@pytest.fixture()
def client(varlink_bridge: str) -> Iterator[Any]:
    """Return a connection to the bridge with the strict interface pinned."""
    c = varlink.Client(address=varlink_bridge)
    c.add_interface(strict_interface())
    conn = c.open(INTERFACE_NAME)
    yield conn
    conn.close()


def containers(client: Any) -> dict[str, dict[str, Any]]:
    """Return ListContainers' entries by name."""
    return {c["names"]: c for c in client.ListContainers()["containers"]}


def test_list_containers(podman_env: PodmanEnv, client: Any) -> None:
    listed = containers(client)
    n = podman_env.names
    status = {name: listed[name]["status"] for name in
              (n["running"], n["paused"], n["exited"], n["created"])}
    # The 2018 service's words: "configured" is what Podman now calls "created".
    assert status == {n["running"]: "running", n["paused"]: "paused",
                      n["exited"]: "exited", n["created"]: "configured"}
    ps = json.loads(podman_env.podman("ps", "-a", "--format", "json"))
    assert {c["Id"] for c in ps} == {c["id"] for c in listed.values()}
    running = listed[n["running"]]
    assert running["containerrunning"] is True and running["image"] == IMAGE
    created = go_time(running["createdat"])
    assert created is not None and abs(created - time.time()) < 3600
    labeled = listed[n["labeled"]]
    assert labeled["labels"] == {"app": "shop", "tier": "web"}
    assert labeled["ports"] == [{"host_port": str(podman_env.labeled_port),
                                 "host_ip": "127.0.0.1", "protocol": "tcp",
                                 "container_port": "80"}]


def test_stats_images_info(podman_env: PodmanEnv, client: Any) -> None:
    busy = podman_env.names["busy"]
    first = client.GetContainerStats(busy)["container"]
    time.sleep(0.5)
    second = client.GetContainerStats(busy)["container"]
    assert first["name"] == busy and second["cpu_nano"] > first["cpu_nano"] > 0
    assert second["mem_usage"] > 0
    stopped = client.GetContainerStats(podman_env.names["exited"])["container"]
    assert stopped["cpu_nano"] == 0 and stopped["mem_usage"] == 0
    images = {i["id"]: i["size"] for i in client.ListImages()["images"]}
    listed = json.loads(podman_env.podman("images", "--format", "json"))
    assert images == {i["Id"]: i["Size"] for i in listed}
    info = json.loads(podman_env.podman("info", "--format", "json"))
    for method in ("GetInfo", "Info"):
        host = getattr(client, method)()["info"]["host"]
        assert host["mem_total"] == info["host"]["memTotal"]
    assert client.GetVersion()["version"]["version"] == info["version"]["Version"]
    assert client.Ping()["ping"]["message"] == "OK"


def test_errors(client: Any) -> None:
    with pytest.raises(varlink.VarlinkError) as err:
        client.GetContainerStats("no-such-container")
    assert err.value.error() == "io.projectatomic.podman.ContainerNotFound"
    with pytest.raises(varlink.VarlinkError) as err:
        client.InspectImage("localhost/no-such:image")
    assert err.value.error() == "io.projectatomic.podman.ImageNotFound"
    with pytest.raises(varlink.VarlinkError) as err:
        client.GetContainerLogs("x")
    assert err.value.error() == "org.varlink.service.MethodNotImplemented"


def test_actions(podman_env: PodmanEnv, client: Any) -> None:
    name = "e2e-bridge-action"
    cid = podman_env.podman("run", "-d", "--network", podman_env.network, "--name", name,
                            IMAGE, "sleep", "100000").strip()
    assert client.PauseContainer(name)["container"] == cid
    assert podman_env.podman("inspect", "-f", "{{.State.Status}}", name).strip() == "paused"
    assert client.UnpauseContainer(name)["container"] == cid
    assert client.StopContainer(name, 0)["container"] == cid
    assert podman_env.podman("inspect", "-f", "{{.State.Status}}", name).strip() == "exited"
    assert client.RemoveContainer(name, True)["container"] == cid
    assert podman_env.podman("ps", "-aq", "--filter", f"name=^{name}$").strip() == ""


def test_service_outage_drops_connection(service_outage: PodmanEnv, varlink_bridge: str) -> None:
    c = varlink.Client(address=varlink_bridge)
    c.add_interface(strict_interface())
    with c.open(INTERFACE_NAME) as conn, pytest.raises((ConnectionError, BrokenPipeError)):
        conn.ListContainers()
    service_outage.start_service()
    with c.open(INTERFACE_NAME) as conn:
        assert conn.ListContainers()["containers"]


def test_bridge_command_line(podman_env: PodmanEnv) -> None:
    """The bridge's run() serves until SIGTERM and exits 0; a bad URL exits 2."""
    code = ("import argparse, sys; from podman_exporter.podman import bridge; "
            "p = argparse.ArgumentParser(); bridge.add_arguments(p); "
            "sys.exit(bridge.run(p.parse_args(sys.argv[1:])))")
    address = f"unix:{podman_env.base / 'cli-bridge.sock'}"
    proc = subprocess.Popen([sys.executable, "-c", code, "--listen", address,
                             "--podman.url", podman_env.url])
    try:
        deadline = time.monotonic() + 20
        while not (podman_env.base / "cli-bridge.sock").exists():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        c = varlink.Client(address=address)
        c.add_interface(strict_interface())
        with c.open(INTERFACE_NAME) as conn:
            assert conn.Ping()["ping"]["message"] == "OK"
    finally:
        proc.terminate()
    assert proc.wait(timeout=15) == 0
    bad = subprocess.run([sys.executable, "-c", code, "--listen", address, "--podman.url",
                          "http://nowhere"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "unsupported Podman URL" in bad.stderr
