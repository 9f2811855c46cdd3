"""A real Prometheus (and Alertmanager) scraping one exporter, for end-to-end tests.

The shipped rules are loaded from a copy whose ``for:`` durations are rewritten to
0s: the shipped ones (minutes) cannot pass in a test, and everything else in the
rules (expressions, thresholds, windows) stays as shipped.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support import free_port
from support import require_tool as require

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "dashboards"))

from dashgen import queries


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
    """Prometheus and Alertmanager on loopback ports, scraping ``target`` (job podman)."""

    target: str
    prometheus_port: int
    alertmanager_port: int

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

    def rule_evaluations(self) -> list[dict[str, Any]]:
        """Return every loaded rule with its health and last error."""
        body = get_json(f"http://127.0.0.1:{self.prometheus_port}/api/v1/rules")
        return [rule for group in body["data"]["groups"] for rule in group["rules"]]


def start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start a process logging to ``log``; return it."""
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


@contextmanager
def prometheus_stack(tmp: Path, target: str,
                     also: Mapping[str, Sequence[str]] | None = None) -> Iterator[Stack]:
    """Start Prometheus (rules with ``for: 0s``, 1 s scrapes and evaluations),
    Alertmanager and the ``also`` commands (by log name); yield once ``target`` is up."""
    prometheus = require("prometheus")
    alertmanager = require("prometheus-alertmanager")
    stack = Stack(target, free_port(), free_port())
    (tmp / "am.yml").write_text("route: {receiver: 'null'}\nreceivers: [{name: 'null'}]\n")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules_with_short_for(tmp / "podman.rules.yml"))],
        "alerting": {"alertmanagers": [
            {"static_configs": [{"targets": [f"127.0.0.1:{stack.alertmanager_port}"]}]}]},
        "scrape_configs": [{"job_name": "podman", "static_configs": [{"targets": [target]}]}],
    }
    (tmp / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    commands = {
        **(also or {}),
        "alertmanager": [alertmanager, f"--config.file={tmp / 'am.yml'}",
                         f"--storage.path={tmp / 'am'}",
                         f"--web.listen-address=127.0.0.1:{stack.alertmanager_port}",
                         "--cluster.listen-address="],
        "prometheus": [prometheus, f"--config.file={tmp / 'prometheus.yml'}",
                       f"--storage.tsdb.path={tmp / 'tsdb'}",
                       f"--web.listen-address=127.0.0.1:{stack.prometheus_port}"],
    }
    procs = {name: start(list(cmd), tmp / f"{name}.log") for name, cmd in commands.items()}
    try:
        for name, proc in procs.items():
            if proc.poll() is not None:
                pytest.fail(f"{name} exited: {(tmp / f'{name}.log').read_text()[-2000:]}")
        # Prometheus answers its API with 503 until it is ready (TSDB opened, rules loaded).
        wait(lambda: ready(f"http://127.0.0.1:{stack.prometheus_port}/-/ready"),
             "Prometheus ready")
        wait(lambda: stack.query('up{job="podman"} == 1'), "the exporter target to be up")
        yield stack
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(timeout=30)
