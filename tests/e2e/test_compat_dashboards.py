"""Dashboards written for the Go exporter, against this exporter: every query of
tests/compat/go_queries.yaml evaluated by a real Prometheus.

Two targets, each with its own Prometheus (prom_stack.py), each exporter started with
the Go-style container labels (``--collector.container.labels.style go``):

- varlink: the demo, a simulated Podman; the truth is what the simulator itself lists;
- rest: the private real Podman of the e2e suite (podman_env.py); the truth is what
  Podman's CLI says.

A query must return series carrying its labels (with values: an empty label is no
label in Prometheus), and, where it names a truth, exactly the truth's series and
values. A query the target cannot answer (``needs``: the REST API, or Podman 5.0's
per-interface counters) must return nothing: absent, never 0.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import varlink
import yaml
from podman_env import PodmanEnv
from prom_stack import Stack, prometheus_stack, queries, wait

from support import free_port

pytestmark = pytest.mark.prometheus
SPEC: dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "compat" / "go_queries.yaml").read_text())
QUERIES: list[dict[str, Any]] = SPEC["queries"]
GO_LABELS = ["--collector.container.labels", ",".join(SPEC["container_labels"]),
             "--collector.container.labels.style", "go"]
RATE_WINDOW = "10s"
Expected = list[tuple[dict[str, str], float | None]]
"""Series a query must return: labels each one carries (a subset), and its value (None:
any value)."""


@dataclass
class Target:
    """One exporter scraped by its own Prometheus, and the truth of the Podman it watches."""

    api: str
    version: tuple[int, int]
    """Podman's (major, minor); the simulator stands for the 2018 service (0, 8)."""
    stack: Stack
    truths: dict[str, Callable[[], Expected]]
    _known: dict[str, Expected] = field(default_factory=dict)

    def truth(self, name: str) -> Expected:
        """Return the truth ``name`` (read once)."""
        if name not in self._known:
            self._known[name] = self.truths[name]()
        return self._known[name]

    def supplies(self, needs: str | None) -> bool:
        """Return whether the target's Podman supplies what a query needs."""
        if needs == "rest":
            return self.api == "rest"
        if needs == "podman5":
            return self.api == "rest" and self.version >= (5, 0)
        return needs is None


def exporter_command(target: str, *args: str) -> list[str]:
    """Return the command line of an exporter on ``target`` with the Go-style labels."""
    exe = shutil.which("podman-exporter") or str(Path(sys.executable).with_name("podman-exporter"))
    return [exe, *args, *GO_LABELS, "--web.listen-address", target, "--collect.interval", "1s"]


def warm(stack: Stack) -> None:
    """Return once rates over RATE_WINDOW have data."""
    wait(lambda: stack.query(f'rate(podman_container_cpu_seconds_total{{instance="{stack.target}"}}'
                             f"[{RATE_WINDOW}])"), "rates")


def by_label(label: str, values: list[str]) -> Expected:
    """Return ``count by (label)``'s series of ``values``."""
    return [({label: v}, float(values.count(v))) for v in sorted(set(values))]


# -- the simulator (varlink) ------------------------------------------------------------


def sim_truths(socket: str) -> dict[str, Callable[[], Expected]]:
    """Return the truths the simulator knows: what it lists itself."""

    def call(method: str) -> dict[str, Any]:
        with varlink.Client(f"unix:{socket}") as client, \
                client.open("io.projectatomic.podman") as podman:
            reply: dict[str, Any] = getattr(podman, method)()
            return reply

    def containers() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = call("ListContainers")["containers"]
        return found

    return {
        "containers": lambda: [({}, float(len(containers())))],
        "running": lambda: [({}, float(sum(c["status"] == "running" for c in containers())))],
        "images": lambda: [({}, float(len({i["id"] for i in call("ListImages")["images"]})))],
        "containers_by_tier": lambda: by_label(
            "tier", [c["labels"]["tier"] for c in containers() if c["labels"].get("tier")]),
        "one": lambda: [({}, 1.0)],
    }


@pytest.fixture(scope="module")
def varlink_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """Return the demo exporter (a simulated Podman over varlink) and its Prometheus."""
    tmp = tmp_path_factory.mktemp("compat-sim")
    socket, target = str(tmp / "podman.sock"), f"127.0.0.1:{free_port()}"
    command = exporter_command(target, "--demo", "--demo.socket", socket,
                               "--podman.timeout", "1s")
    with prometheus_stack(tmp, target, {"exporter": command}) as stack:
        with varlink.Client(f"unix:{socket}") as client, \
                client.open("io.podman-exporter.simulator") as sim:
            sim.SetChurn(0.0)  # the fleet stays as listed: the truth holds
        warm(stack)
        yield Target("varlink", (0, 8), stack, sim_truths(socket))


# -- a real Podman (REST) ---------------------------------------------------------------


def runtime_version(text: str) -> str:
    """Return the runtime's first line (``runc version 1.1.5+ds1``)."""
    return text.splitlines()[0] if text else ""


def conmon_version(text: str) -> str:
    """Return the version number of ``conmon version 2.1.6, commit: ...``."""
    match = re.match(r"conmon version ([^,\s]+)", text)
    return match.group(1) if match else ""


def whole_seconds(rfc3339: str) -> float:
    """Return whole unix seconds of an RFC 3339 time as Podman writes it."""
    stamp = re.sub(r"\.\d+", "", rfc3339).replace("Z", "+00:00")
    return float(int(datetime.fromisoformat(stamp).timestamp()))


def podman_truths(env: PodmanEnv) -> dict[str, Callable[[], Expected]]:
    """Return the truths Podman's CLI tells."""

    def listed(*args: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = json.loads(env.podman(*args, "--format", "json") or "[]")
        return found

    def containers() -> list[dict[str, Any]]:
        return listed("ps", "-a")

    def info() -> dict[str, Any]:
        found: dict[str, Any] = json.loads(env.podman("info", "--format", "json"))
        return found

    def version(value: str) -> Expected:
        return [({"version": value}, 1.0)] if value else []

    def pods() -> list[dict[str, Any]]:
        return listed("pod", "ps")

    def volume_created() -> Expected:
        names = [v["Name"] for v in listed("volume", "ls")]
        inspected = json.loads(env.podman("volume", "inspect", *names)) if names else []
        return [({"name": v["Name"]}, whole_seconds(v["CreatedAt"])) for v in inspected]

    return {
        "containers": lambda: [({}, float(len(containers())))],
        "running": lambda: [({}, float(sum(c["State"] == "running" for c in containers())))],
        "images": lambda: [({}, float(len({i["Id"] for i in listed("images", "-a")})))],
        "containers_by_tier": lambda: by_label(
            "tier", [c["Labels"]["tier"] for c in containers()
                     if (c.get("Labels") or {}).get("tier")]),
        "nonzero_exit_codes": lambda: [({"id": c["Id"][:12]}, float(c["ExitCode"]))
                                       for c in containers() if c["ExitCode"] != 0],
        "pods": lambda: [({"id": p["Id"][:12], "name": p["Name"]}, 1.0) for p in pods()],
        "pod_containers": lambda: [({"id": p["Id"][:12]}, float(len(p["Containers"])))
                                   for p in pods()],
        "pod_created": lambda: [({"id": p["Id"][:12]}, whole_seconds(p["Created"]))
                                for p in pods()],
        "volume_created": volume_created,
        "networks": lambda: [({"name": n["name"], "id": n["id"][:12]}, 1.0)
                             for n in listed("network", "ls")],
        "api_version": lambda: version(info()["version"]["APIVersion"]),
        "runtime_version": lambda: version(
            runtime_version(info()["host"]["ociRuntime"]["version"])),
        "conmon_version": lambda: version(conmon_version(info()["host"]["conmon"]["version"])),
        "buildah_version": lambda: version(info()["host"]["buildahVersion"]),
        "one": lambda: [({}, 1.0)],
    }


@pytest.fixture(scope="module")
def rest_target(podman_env: PodmanEnv,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """Return an exporter on the private real Podman (REST) and its Prometheus."""
    tmp = tmp_path_factory.mktemp("compat-rest")
    target = f"127.0.0.1:{free_port()}"
    command = exporter_command(target, "--podman.api", "rest", "--podman.url", podman_env.url)
    version = podman_env.podman("info", "--format", "{{.Version.Version}}").strip()
    major, minor = (int(part) for part in version.split(".")[:2])
    with prometheus_stack(tmp, target, {"exporter": command}) as stack:
        warm(stack)
        yield Target("rest", (major, minor), stack, podman_truths(podman_env))


# -- the queries ------------------------------------------------------------------------


def matches(result: list[dict[str, Any]], expected: Expected) -> bool:
    """Return whether the result is exactly the expected series and values."""
    if len(result) != len(expected):
        return False
    for labels, value in expected:
        found = [r for r in result if labels.items() <= r["metric"].items()]
        if len(found) != 1 or (value is not None and float(found[0]["value"][1]) != value):
            return False
    return True


@pytest.mark.parametrize("query", QUERIES, ids=[q["name"] for q in QUERIES])
@pytest.mark.parametrize("api", ["varlink", pytest.param("rest", marks=pytest.mark.realpodman)])
def test_go_dashboard_query(api: str, query: dict[str, Any],
                            request: pytest.FixtureRequest) -> None:
    target: Target = request.getfixturevalue(f"{api}_target")
    expr = queries.substitute(query["expr"], {"instance": target.stack.target,
                                              "__rate_interval": RATE_WINDOW})
    if not target.supplies(query.get("needs")):
        assert target.stack.query(expr) == [], f"{api} cannot supply it: absent, never 0"
        return
    result = wait(lambda: target.stack.query(expr), f"{query['name']} on {api}")
    for series in result:
        missing = [label for label in query.get("labels", []) if not series["metric"].get(label)]
        assert not missing, f"{series['metric']} lacks {missing}"
    if "truth" in query:
        expected = target.truth(query["truth"])
        assert expected, f"the truth {query['truth']} of {api} is empty: nothing to compare"
        # Prometheus may lag one scrape behind a change the truth already shows.
        got = wait(lambda: target.stack.query(expr), f"{query['name']} == {expected}",
                   lambda r: matches(r, expected), within=15)
        assert matches(got, expected)
