"""/metrics of a real ``podman-exporter`` process watching a real Podman, for both APIs.

``rest`` talks to Podman's REST socket directly; ``varlink`` goes through the
varlink bridge. Every expected value comes from Podman's own CLI.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from exporter_proc import Exporter, Scrape, value
from podman_env import IMAGE, PodmanEnv

from podman_exporter.snapshot.model import ContainerState

pytestmark = pytest.mark.realpodman

Start = Callable[[str, str], Exporter]


@pytest.fixture(params=["rest", "varlink"])
def watching(request: pytest.FixtureRequest, podman_env: PodmanEnv, exporter: Start) -> Exporter:
    """Return an exporter watching the private Podman through the parametrised API."""
    if request.param == "rest":
        return exporter("rest", podman_env.url)
    return exporter("varlink", request.getfixturevalue("varlink_bridge"))


def api_of(exp: Exporter) -> str:
    """Return the API the exporter was started with."""
    return exp.proc.args[exp.proc.args.index("--podman.api") + 1]  # type: ignore[union-attr]


def ids(env: PodmanEnv) -> dict[str, str]:
    """Return full container id by name, from ``podman ps -a``."""
    return {c["Names"][0]: c["Id"] for c in json.loads(env.podman("ps", "-a", "--format", "json"))}


def test_container_info_and_state(podman_env: PodmanEnv, watching: Exporter) -> None:
    scrape = watching.scrape()
    n = podman_env.names
    expected = {
        n["running"]: ContainerState.RUNNING, n["busy"]: ContainerState.RUNNING,
        n["paused"]: ContainerState.PAUSED, n["exited"]: ContainerState.EXITED,
        n["created"]: ContainerState.CREATED, n["health"]: ContainerState.RUNNING,
        n["labeled"]: ContainerState.RUNNING, n["pod_a"]: ContainerState.RUNNING,
        n["pod_b"]: ContainerState.RUNNING,
    }
    real_ids = ids(podman_env)
    for name, state in expected.items():
        short = real_ids[name][:12]
        assert value(scrape, "podman_container_info", name=name, id=short, image=IMAGE) == 1
        assert value(scrape, "podman_container_state", name=name) == state, name
    labeled = [s for s in scrape["podman_container_info"] if s.labels["name"] == n["labeled"]]
    assert labeled[0].labels["ports"] == f"127.0.0.1:{podman_env.labeled_port}->80/tcp"


def test_rest_only_metrics(podman_env: PodmanEnv, watching: Exporter) -> None:
    """Exit code, health, pods and volumes come from REST; through varlink they are absent."""
    scrape = watching.scrape()
    n = podman_env.names
    rest_only = ("podman_container_exit_code", "podman_container_health", "podman_pod_info",
                 "podman_pod_state", "podman_pod_containers", "podman_volume_info",
                 "podman_container_started_seconds", "podman_container_exited_seconds")
    if api_of(watching) == "varlink":
        assert [m for m in rest_only if m in scrape] == []
        return
    assert value(scrape, "podman_container_exit_code", name=n["exited"]) == 3
    assert value(scrape, "podman_container_health", name=n["health"]) == 0
    assert value(scrape, "podman_container_health", name=n["running"]) == -1
    pod = json.loads(podman_env.podman("pod", "inspect", n["pod"]))
    pod = pod[0] if isinstance(pod, list) else pod
    assert value(scrape, "podman_pod_info", name=n["pod"], id=pod["Id"][:12]) == 1
    assert value(scrape, "podman_pod_containers", name=n["pod"]) == 3  # with the infra container
    assert value(scrape, "podman_container_state", name=n["pod_a"],
                 pod_id=pod["Id"][:12], pod_name=n["pod"]) == ContainerState.RUNNING
    assert value(scrape, "podman_volume_info", name="e2e-volume", driver="local") == 1


def test_image_size_and_host_memory(podman_env: PodmanEnv, watching: Exporter) -> None:
    scrape = watching.scrape()
    for image in json.loads(podman_env.podman("images", "--format", "json")):
        assert value(scrape, "podman_image_size", id=image["Id"][:12]) == image["Size"]
    info = json.loads(podman_env.podman("info", "--format", "json"))
    assert value(scrape, "podman_host_memory_total_bytes") == info["host"]["memTotal"]


def test_removed_container_disappears(podman_env: PodmanEnv, watching: Exporter) -> None:
    name = f"e2e-doomed-{api_of(watching)}"
    podman_env.podman("run", "-d", "--network", podman_env.network, "--name", name,
                      IMAGE, "sleep", "100000")
    try:
        seen = watching.wait_for(lambda s: _has(s, name), f"{name} to appear")
    finally:
        podman_env.podman("rm", "-f", "-t", "0", name)
    assert podman_env.podman("ps", "-aq", "--filter", f"name=^{name}$").strip() == ""
    gone = watching.next_collection(seen)
    if _has(gone, name):  # the collection may have started before the rm
        gone = watching.next_collection(gone)
    assert not _has(gone, name)


def _has(scrape: Scrape, name: str) -> bool:
    return any(s.labels.get("name") == name for s in scrape.get("podman_container_info", []))


def test_service_outage(podman_env: PodmanEnv, watching: Exporter,
                        service_outage: PodmanEnv) -> None:
    watching.wait_for(lambda s: value(s, "podman_up") == 0, "podman_up 0")
    assert watching.proc.poll() is None
    service_outage.start_service()
    back = watching.wait_for(lambda s: value(s, "podman_up") == 1 and _has(
        s, podman_env.names["running"]), "podman_up 1 with containers again")
    assert value(back, "podman_host_memory_total_bytes") > 0


def test_auto_detects_each_api(podman_env: PodmanEnv, varlink_bridge: str,
                               exporter: Start) -> None:
    """``--podman.api=auto`` picks REST on Podman's socket and varlink on the bridge's."""
    exited = podman_env.names["exited"]
    rest = exporter("auto", podman_env.url).scrape()
    assert value(rest, "podman_container_exit_code", name=exited) == 3
    varlink = exporter("auto", varlink_bridge).scrape()
    assert value(varlink, "podman_container_state", name=exited) == ContainerState.EXITED
    assert "podman_container_exit_code" not in varlink
