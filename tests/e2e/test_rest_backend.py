"""The REST backend against a real Podman: every record checked against Podman's own CLI."""

from __future__ import annotations

import json
import time

import pytest
from podman_env import IMAGE, PodmanEnv

from podman_exporter.podman.backend import NotFound, PodmanUnavailable
from podman_exporter.podman.rest import RestBackend, speaks_rest
from podman_exporter.podman.select import first_reply_byte, speaks_varlink
from podman_exporter.snapshot.model import Container, ContainerState, Health, PodState

pytestmark = pytest.mark.realpodman


def by_name(backend: RestBackend) -> dict[str, Container]:
    """Return the backend's containers keyed by name."""
    batch = backend.list_containers()
    assert batch.bad == 0
    return {c.name: c for c in batch.items}


def inspect(env: PodmanEnv, name: str) -> dict[str, object]:
    """Return ``podman inspect`` of one container."""
    doc = json.loads(env.podman("inspect", "--type", "container", name))[0]
    assert isinstance(doc, dict)
    return doc


def test_speaks_rest(podman_env: PodmanEnv) -> None:
    assert speaks_rest(str(podman_env.socket_path), timeout=5)
    assert not speaks_rest(str(podman_env.base / "missing.sock"), timeout=1)


def test_the_api_probe_gets_an_answer_from_rest_at_once(podman_env: PodmanEnv) -> None:
    """Podman's HTTP server answers the varlink probe with a 400 instead of waiting for the
    rest of a request (which would cost auto-detection a whole --podman.timeout)."""
    assert first_reply_byte(str(podman_env.socket_path), timeout=60) == b"H"
    assert not speaks_varlink(str(podman_env.socket_path), timeout=60)


def test_container_states_match_podman(podman_env: PodmanEnv, rest_backend: RestBackend) -> None:
    containers = by_name(rest_backend)
    n = podman_env.names
    expected = {
        n["running"]: ContainerState.RUNNING, n["busy"]: ContainerState.RUNNING,
        n["paused"]: ContainerState.PAUSED, n["exited"]: ContainerState.EXITED,
        n["created"]: ContainerState.CREATED, n["health"]: ContainerState.RUNNING,
        n["labeled"]: ContainerState.RUNNING, n["pod_a"]: ContainerState.RUNNING,
        n["pod_b"]: ContainerState.RUNNING,
    }
    for name, state in expected.items():
        assert containers[name].state is state, name
        doc = inspect(podman_env, name)
        assert containers[name].id == doc["Id"]
        assert containers[name].image == IMAGE


def test_exit_code_and_times(podman_env: PodmanEnv, rest_backend: RestBackend) -> None:
    containers = by_name(rest_backend)
    exited = containers[podman_env.names["exited"]]
    assert exited.exit_code == 3
    assert exited.started is not None and exited.exited is not None
    assert exited.exited >= exited.started
    created = containers[podman_env.names["created"]]
    assert created.started is None and created.exited is None
    running = containers[podman_env.names["running"]]
    assert running.created is not None and running.started is not None
    assert running.exited is None
    assert abs(running.created - time.time()) < 3600


def test_health_labels_ports_pods(podman_env: PodmanEnv, rest_backend: RestBackend) -> None:
    containers = by_name(rest_backend)
    n = podman_env.names
    assert containers[n["health"]].health is Health.HEALTHY
    assert containers[n["running"]].health is Health.UNKNOWN
    labeled = containers[n["labeled"]]
    assert dict(labeled.labels) == {"app": "shop", "tier": "web"}
    assert [p.render() for p in labeled.ports] == [f"127.0.0.1:{podman_env.labeled_port}->80/tcp"]
    pod_id = json.loads(podman_env.podman("pod", "inspect", n["pod"]))
    pod_id = pod_id[0]["Id"] if isinstance(pod_id, list) else pod_id["Id"]
    for member in (n["pod_a"], n["pod_b"]):
        assert containers[member].pod_id == pod_id
        assert containers[member].pod_name == n["pod"]


def test_stats_for_running_containers(podman_env: PodmanEnv, rest_backend: RestBackend) -> None:
    containers = by_name(rest_backend)
    busy = containers[podman_env.names["busy"]]
    running = [c.id for c in containers.values() if c.state is ContainerState.RUNNING]
    first = {s.id: s for s in rest_backend.container_stats(running).items}
    assert set(first) == set(running)
    time.sleep(0.5)
    second = {s.id: s for s in rest_backend.container_stats([busy.id, "0" * 64]).items}
    assert set(second) == {busy.id}  # the vanished id is left out, the rest kept
    before, after = first[busy.id].cpu_seconds, second[busy.id].cpu_seconds
    assert before is not None and after is not None and after > before
    assert all((s.mem_usage_bytes or 0) > 0 for s in first.values())


def test_images_volumes_pods_info(podman_env: PodmanEnv, rest_backend: RestBackend) -> None:
    listed = json.loads(podman_env.podman("images", "--format", "json"))
    images = {i.id: i for i in rest_backend.list_images().items}
    assert {i["Id"]: i["Size"] for i in listed} == {k: v.size_bytes for k, v in images.items()}
    volumes = rest_backend.list_volumes().items
    assert [(v.name, v.driver) for v in volumes] == [("e2e-volume", "local")]
    assert volumes[0].mount_point.startswith(str(podman_env.base))
    pods = rest_backend.list_pods().items
    assert [(p.name, p.state, p.containers) for p in pods] == [
        (podman_env.names["pod"], PodState.RUNNING, 3)]
    info = json.loads(podman_env.podman("info", "--format", "json"))
    host = rest_backend.host_info().items[0]
    assert host.mem_total_bytes == info["host"]["memTotal"]
    assert host.cpus == info["host"]["cpus"]
    assert host.graph_root == str(podman_env.base / "root")
    assert host.version.version == info["version"]["Version"]


def test_actions_change_podman_state(podman_env: PodmanEnv, rest_backend: RestBackend) -> None:
    name = "e2e-action"
    cid = podman_env.podman("run", "-d", "--network", podman_env.network, "--name", name,
                            IMAGE, "sleep", "100000").strip()
    assert rest_backend.pause_container(name) == cid
    assert inspect(podman_env, name)["State"]["Status"] == "paused"  # type: ignore[index]
    assert rest_backend.unpause_container(name) == cid
    assert rest_backend.stop_container(name, 0) == cid
    assert inspect(podman_env, name)["State"]["Status"] == "exited"  # type: ignore[index]
    assert rest_backend.remove_container(name, force=True) == cid
    assert podman_env.podman("ps", "-aq", "--filter", f"name=^{name}$").strip() == ""
    with pytest.raises(NotFound):
        rest_backend.remove_container(name, force=True)


def test_unreachable_service(service_outage: PodmanEnv) -> None:
    backend = RestBackend(service_outage.url, timeout=2.0, connections=1)
    with pytest.raises(PodmanUnavailable):
        backend.list_containers()
    service_outage.start_service()
    assert backend.list_containers().items
    backend.close()


def test_stop_grace_longer_than_call_timeout(podman_env: PodmanEnv) -> None:
    """A stop whose grace period outlasts the per-call timeout still succeeds.

    ``sleep`` as PID 1 ignores SIGTERM, so Podman waits the whole grace period.
    """
    name = "e2e-slow-stop"
    cid = podman_env.podman("run", "-d", "--network", podman_env.network, "--name", name,
                            IMAGE, "sleep", "100000").strip()
    backend = RestBackend(podman_env.url, timeout=1.0, connections=1)
    try:
        assert backend.stop_container(name, 3) == cid
        assert inspect(podman_env, name)["State"]["Status"] == "exited"  # type: ignore[index]
        assert backend.list_containers().items  # the connection is usable afterwards
    finally:
        backend.close()
        podman_env.podman("rm", "-f", "-t", "0", name)
