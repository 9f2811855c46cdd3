"""Dashboards and alerts against a real Prometheus (and Alertmanager) scraping the exporter.

The exporter runs in demo mode (simulated Podman over varlink); Prometheus scrapes it
and evaluates the rules every second. The rules are loaded from a copy whose ``for:``
durations are rewritten to 0s: the shipped ones (minutes) cannot pass in a test, and
everything else in the rules (expressions, thresholds, windows) stays as shipped.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import varlink

from support import free_port, require_modules
from support import require_tool as require

require_modules("promql_parser")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "dashboards"))

from dashgen import queries  # noqa: E402

pytestmark = pytest.mark.prometheus
SIM = "io.podman-exporter.simulator"
REST_ONLY = frozenset({
    "podman_container_exit_code", "podman_container_health", "podman_container_started_seconds",
    "podman_container_exited_seconds", "podman_host_swap_total_bytes", "podman_pod_info",
    "podman_pod_state", "podman_pod_containers", "podman_volume_info",
})
"""Series only the REST API yields; the demo speaks varlink, so queries of them stay empty."""
PLAIN_NAME = re.compile(r"[a-z0-9_]+")




def get_json(url: str) -> Any:
    """Return the decoded JSON body of a GET."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def ready(url: str) -> bool:
    """Return whether ``url`` answers 200 (an error answer is a not yet, not a failure)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status) == 200
    except urllib.error.HTTPError:
        return False


def wait(
    check: Callable[[], Any], what: str, done: Callable[[Any], bool] = bool, within: float = 60.0
) -> Any:
    """Return the first result of ``check`` that is ``done``; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as exc:
            last = exc
        else:
            if done(last):
                return last
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}; last: {last!r}"[:3000])


def rules_with_short_for(target: Path) -> Path:
    """Write the shipped rules with every ``for:`` set to 0s; return the file."""
    text, count = re.subn(r"^(\s+for:) \S+$", r"\1 0s", queries.RULES_FILE.read_text(),
                          flags=re.MULTILINE)
    assert count == sum("alert" in r for r in queries.rules()), "a for: was not rewritten"
    target.write_text(text)
    return target


@dataclass
class Stack:
    """The exporter (demo), Prometheus and Alertmanager, on loopback ports."""

    exporter_port: int
    prometheus_port: int
    alertmanager_port: int
    socket: str

    @property
    def target(self) -> str:
        """Return the scrape target (the ``instance`` label)."""
        return f"127.0.0.1:{self.exporter_port}"

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Return the result of an instant query; fail on a Prometheus error."""
        url = (f"http://127.0.0.1:{self.prometheus_port}/api/v1/query?"
               + urllib.parse.urlencode({"query": expr}))
        try:
            body = get_json(url)
        except urllib.error.HTTPError as exc:
            pytest.fail(f"{expr}: {exc.read().decode()}")
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def firing(self) -> dict[str, list[dict[str, str]]]:
        """Return the labels of Prometheus' firing alerts, by alert name."""
        body = get_json(f"http://127.0.0.1:{self.prometheus_port}/api/v1/alerts")
        out: dict[str, list[dict[str, str]]] = {}
        for alert in body["data"]["alerts"]:
            if alert["state"] == "firing":
                out.setdefault(alert["labels"]["alertname"], []).append(alert["labels"])
        return out

    def received(self) -> set[str]:
        """Return the names of the alerts Alertmanager holds."""
        alerts = get_json(f"http://127.0.0.1:{self.alertmanager_port}/api/v2/alerts")
        return {alert["labels"]["alertname"] for alert in alerts}

    def control(self, method: str, *args: Any) -> Any:
        """Call a method of the simulator's control interface; return its reply."""
        with varlink.Client(f"unix:{self.socket}") as client, client.open(SIM) as sim:
            return getattr(sim, method)(*args)


def start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start a process logging to ``log``; return it."""
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Start the three servers; yield once the exporter's target is up in Prometheus."""
    prometheus = require("prometheus")
    alertmanager = require("prometheus-alertmanager")
    tmp = tmp_path_factory.mktemp("prom-e2e")
    s = Stack(free_port(), free_port(), free_port(), str(tmp / "podman.sock"))
    exe = shutil.which("podman-exporter") or str(Path(sys.executable).with_name("podman-exporter"))
    (tmp / "am.yml").write_text("route: {receiver: 'null'}\nreceivers: [{name: 'null'}]\n")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules_with_short_for(tmp / "podman.rules.yml"))],
        "alerting": {"alertmanagers": [
            {"static_configs": [{"targets": [f"127.0.0.1:{s.alertmanager_port}"]}]}]},
        "scrape_configs": [{"job_name": "podman",
                            "static_configs": [{"targets": [s.target]}]}],
    }
    (tmp / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    procs = [
        start([exe, "--demo", "--demo.socket", s.socket, "--web.listen-address", s.target,
               "--collect.interval", "1s", "--podman.timeout", "1s"], tmp / "exporter.log"),
        start([alertmanager, f"--config.file={tmp / 'am.yml'}", f"--storage.path={tmp / 'am'}",
               f"--web.listen-address=127.0.0.1:{s.alertmanager_port}",
               "--cluster.listen-address="], tmp / "alertmanager.log"),
        start([prometheus, f"--config.file={tmp / 'prometheus.yml'}",
               f"--storage.tsdb.path={tmp / 'tsdb'}",
               f"--web.listen-address=127.0.0.1:{s.prometheus_port}"], tmp / "prometheus.log"),
    ]
    try:
        for proc, name in zip(procs, ("exporter", "alertmanager", "prometheus"), strict=True):
            if proc.poll() is not None:
                pytest.fail(f"{name} exited: {(tmp / f'{name}.log').read_text()[-2000:]}")
        # Prometheus answers its API with 503 until it is ready (TSDB opened, rules loaded).
        wait(lambda: ready(f"http://127.0.0.1:{s.prometheus_port}/-/ready"), "Prometheus ready")
        wait(lambda: s.query('up{job="podman"} == 1'), "the exporter target to be up")
        s.control("SetChurn", 0.0)  # the demo's churn would undo the states set below
        yield s
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def test_the_exporter_target_is_up(stack: Stack) -> None:
    (up,) = stack.query("up")
    assert up["metric"]["instance"] == stack.target
    assert up["value"][1] == "1"
    (podman_up,) = stack.query("podman_up")
    assert podman_up["value"][1] == "1"


def test_every_rule_is_loaded_and_evaluates_without_error(stack: Stack) -> None:
    def evaluated() -> list[dict[str, Any]]:
        body = get_json(f"http://127.0.0.1:{stack.prometheus_port}/api/v1/rules")
        return [rule for group in body["data"]["groups"] for rule in group["rules"]]

    loaded = wait(evaluated, "rule evaluations",
                  lambda rules: all(r["health"] != "unknown" for r in rules))
    assert len(loaded) == len(queries.rules())
    assert [(r["name"], r.get("lastError")) for r in loaded if r["health"] != "ok"] == []


def running_container(stack: Stack) -> dict[str, str]:
    """Return the labels of a running container with a memory limit and a plain name."""
    result = stack.query(
        "podman_container_mem_limit_bytes < on (job, instance) group_left ()"
        " podman_host_memory_total_bytes")
    plain = [r["metric"] for r in result if PLAIN_NAME.fullmatch(r["metric"]["name"])]
    assert plain, "the demo has no running container with a memory limit"
    return min(plain, key=lambda labels: labels["name"])


def test_every_dashboard_query_evaluates_and_returns_series(stack: Stack) -> None:
    container = running_container(stack)
    values = {"job": "podman", "instance": stack.target,
              "container": container["name"], "__rate_interval": "10s"}
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
    rest_only = [q for q in all_queries if queries.metric_names(
        queries.substitute(q.expr, values)) & REST_ONLY]
    assert [str(q) for q in empty] == [str(q) for q in rest_only], (
        "only queries of REST-only series may be empty against the varlink demo")
    assert len(rest_only) <= 4


def test_driven_demo_fires_alerts_in_prometheus_and_alertmanager(stack: Stack) -> None:
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


def test_a_hanging_podman_fires_podman_unreachable(stack: Stack) -> None:
    assert "PodmanUnreachable" not in stack.firing()
    stack.control("SetFaults", {"hang_rates": {"*": 1.0}})
    try:
        wait(lambda: stack.query("podman_up == 0"), "podman_up 0")
        firing = wait(lambda: stack.firing().get("PodmanUnreachable"), "PodmanUnreachable")
        assert [labels["instance"] for labels in firing] == [stack.target]
        wait(lambda: "PodmanUnreachable" in stack.received(), "the alert in Alertmanager")
    finally:
        stack.control("ClearFaults")
    wait(lambda: stack.query("podman_up == 1"), "podman_up 1 after the fault")
