"""Dashboards and alerts against a real Prometheus (and Alertmanager) scraping the exporter.

The exporter runs in demo mode (simulated Podman over varlink); Prometheus scrapes it
and evaluates the rules every second. The rules are loaded from a copy whose ``for:``
durations are rewritten to 0s: the shipped ones (minutes) cannot pass in a test, and
everything else in the rules (expressions, thresholds, windows) stays as shipped.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import varlink

from support import free_port, require_modules

require_modules("promql_parser")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "dashboards"))

from dashgen import queries  # noqa: E402
from prom_stack import Stack, prometheus_stack, wait  # noqa: E402

pytestmark = pytest.mark.prometheus
SIM = "io.podman-exporter.simulator"
REST_ONLY = frozenset({
    "podman_container_exit_code", "podman_container_health", "podman_container_started_seconds",
    "podman_container_exited_seconds", "podman_host_swap_total_bytes", "podman_pod_info",
    "podman_pod_state", "podman_pod_containers", "podman_volume_info",
})
"""Series only the REST API yields; the demo speaks varlink, so queries of them stay empty."""
NO_OOM_SOURCE = frozenset({"podman_container_oom_events_total"})
"""Absent in the demo: the simulator sends no oom events and its containers have no
cgroups or kernel log lines for the exporter to read."""
PLAIN_NAME = re.compile(r"[a-z0-9_]+")




@dataclass
class DemoStack(Stack):
    """The stack scraping the demo exporter, whose simulator listens on ``socket``."""

    socket: str = ""

    def control(self, method: str, *args: Any) -> Any:
        """Call a method of the simulator's control interface; return its reply."""
        with varlink.Client(f"unix:{self.socket}") as client, client.open(SIM) as sim:
            return getattr(sim, method)(*args)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    """Start the demo exporter, Prometheus and Alertmanager; yield once the target is up."""
    tmp = tmp_path_factory.mktemp("prom-e2e")
    socket, target = str(tmp / "podman.sock"), f"127.0.0.1:{free_port()}"
    exe = shutil.which("podman-exporter") or str(Path(sys.executable).with_name("podman-exporter"))
    exporter = [exe, "--demo", "--demo.socket", socket, "--web.listen-address", target,
                "--collect.interval", "1s", "--podman.timeout", "1s"]
    with prometheus_stack(tmp, target, {"exporter": exporter}) as base:
        s = DemoStack(base.target, base.prometheus_port, base.alertmanager_port, socket)
        s.control("SetChurn", 0.0)  # the demo's churn would undo the states set below
        yield s


def test_the_exporter_target_is_up(stack: DemoStack) -> None:
    (up,) = stack.query("up")
    assert up["metric"]["instance"] == stack.target
    assert up["value"][1] == "1"
    (podman_up,) = stack.query("podman_up")
    assert podman_up["value"][1] == "1"


def test_every_rule_is_loaded_and_evaluates_without_error(stack: DemoStack) -> None:
    loaded = wait(stack.rule_evaluations, "rule evaluations",
                  lambda rules: all(r["health"] != "unknown" for r in rules))
    assert len(loaded) == len(queries.rules())
    assert [(r["name"], r.get("lastError")) for r in loaded if r["health"] != "ok"] == []


def running_container(stack: DemoStack) -> dict[str, str]:
    """Return the labels of a running container with a memory limit and a plain name."""
    result = stack.query(
        "podman_container_mem_limit_bytes < on (job, instance, endpoint) group_left ()"
        " podman_host_memory_total_bytes")
    plain = [r["metric"] for r in result if PLAIN_NAME.fullmatch(r["metric"]["name"])]
    assert plain, "the demo has no running container with a memory limit"
    return min(plain, key=lambda labels: labels["name"])


def test_every_dashboard_query_evaluates_and_returns_series(stack: DemoStack) -> None:
    container = running_container(stack)
    values = {"job": "podman", "instance": stack.target,
              "container": container["name"], "endpoint": ".+", "__rate_interval": "10s"}
    all_queries = [q for p in queries.dashboard_files()
                   for q in queries.panel_queries(p) + queries.variable_queries(p)]
    assert len(all_queries) > 40
    # Rates and recording rules need a few samples: wait until the slowest has data.
    wait(lambda: stack.query("instance:podman_container_cpu:ratio5m"), "recording rules")
    empty = []
    for query in all_queries:
        expr = queries.substitute(query.expr, values)
        if not stack.query(expr):
            empty.append(query)

    def using(names: frozenset[str]) -> list[queries.PanelQuery]:
        return [q for q in all_queries
                if queries.metric_names(queries.substitute(q.expr, values)) & names]

    rest_only, no_oom = using(REST_ONLY), using(NO_OOM_SOURCE)
    allowed = set(rest_only) | set(no_oom)
    assert [str(q) for q in empty] == [str(q) for q in all_queries if q in allowed], (
        "only queries of REST-only series and OOM kills may be empty against the demo")
    assert len(rest_only) <= 4
    assert len(no_oom) <= 2


def test_driven_demo_fires_alerts_in_prometheus_and_alertmanager(stack: DemoStack) -> None:
    before = stack.firing()
    assert "PodmanContainerMemoryNearLimit" not in before
    assert "PodmanManyStoppedContainers" not in before
    target = running_container(stack)
    stack.control("SetMemoryNearLimit", target["id"], 0.97)
    summary = stack.control("GetSummary")["summary"]
    others = [r["metric"]["id"] for r in stack.query("podman_container_state == 2")
              if r["metric"]["id"] != target["id"]]
    assert summary["containers"] - 1 > 20, "the demo fleet is too small for the threshold"
    for container_id in others:
        stack.control("SetContainerState", container_id, "exited", 1)
    wait(lambda: stack.query('instance_state:podman_containers:count{state="running"} == 1'),
         "the stopped containers in Prometheus")
    expected = {"PodmanContainerMemoryNearLimit", "PodmanManyStoppedContainers",
                "PodmanContainerStoppedUnexpectedly"}
    firing = wait(stack.firing, "the alerts", lambda f: expected <= set(f))
    (memory,) = firing["PodmanContainerMemoryNearLimit"]
    assert memory["name"] == target["name"]
    assert memory["instance"] == stack.target
    stopped = {labels["id"] for labels in firing["PodmanContainerStoppedUnexpectedly"]}
    assert stopped == set(others)
    wait(lambda: expected <= stack.received(), "the alerts in Alertmanager")


def test_a_hanging_podman_fires_podman_unreachable_and_resolves_no_alert(
        stack: DemoStack) -> None:
    """A Podman that hangs for far longer than 3 collection intervals: PodmanUnreachable
    fires, and the container alerts firing before stay firing throughout (the exporter
    keeps the last known series up to --collect.max-age, 5 min by default)."""
    assert "PodmanUnreachable" not in stack.firing()
    held = {name: {labels["id"] for labels in alerts}
            for name, alerts in stack.firing().items() if name.startswith("PodmanContainer")}
    assert held, "no container alert fires before the outage"
    lost: list[str] = []

    def unreachable_while_checking() -> list[dict[str, str]] | None:
        firing = stack.firing()
        lost.extend(f"{name} {sorted(ids - {a['id'] for a in firing.get(name, [])})}"
                    for name, ids in held.items()
                    if not ids <= {a["id"] for a in firing.get(name, [])})
        return firing.get("PodmanUnreachable")

    stack.control("SetFaults", {"hang_rates": {"*": 1.0}})
    try:
        wait(lambda: stack.query("podman_up == 0"), "podman_up 0")
        firing = wait(unreachable_while_checking, "PodmanUnreachable")
        assert [labels["instance"] for labels in firing] == [stack.target]
        wait(lambda: "PodmanUnreachable" in stack.received(), "the alert in Alertmanager")
        for _ in range(10):  # 5 s more: well past 3 collection intervals of 1 s
            unreachable_while_checking()
            time.sleep(0.5)
        assert lost == [], "container alerts resolved during a short outage"
    finally:
        stack.control("ClearFaults")
    wait(lambda: stack.query("podman_up == 1"), "podman_up 1 after the fault")
