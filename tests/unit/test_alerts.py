"""The alerting and recording rules: promtool accepts and tests them; each alert is
documented, annotated and tested firing and quiet; every metric they use exists; they
keep the ``endpoint`` label, so the Podmans of one host stay apart."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import require_modules, require_tool

require_modules("promql_parser")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "dashboards"))

from dashgen import queries  # noqa: E402

from podman_exporter.snapshot.model import ContainerState  # noqa: E402

RULES = REPO / "alerts" / "podman.rules.yml"
RULE_TESTS = sorted((REPO / "alerts" / "tests").glob("*.yml"))
RUNBOOKS = REPO / "docs" / "alerts.md"
SEVERITIES = {"critical", "warning", "info"}
STATE_WORDS = {float(s.value): s.name.lower() for s in ContainerState}
"""podman_container_state values and the names the rules give them."""


def alerts() -> list[dict[str, Any]]:
    """Return the alerting rules."""
    return [rule for rule in queries.rules(RULES) if "alert" in rule]


def test_promtool_check_rules_with_lint() -> None:
    result = subprocess.run(
        [require_tool("promtool"), "check", "rules", "--lint=all", str(RULES)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(queries.rules(RULES))} rules found" in result.stdout


def rule_tests() -> list[dict[str, Any]]:
    """Return the tests of every promtool test file in alerts/tests/."""
    return [test for path in RULE_TESTS for test in yaml.safe_load(path.read_text())["tests"]]


def test_promtool_unit_tests_pass() -> None:
    assert {"endpoints.test.yml", "podman.rules.test.yml"} <= {p.name for p in RULE_TESTS}
    result = subprocess.run(
        [require_tool("promtool"), "test", "rules", *(p.name for p in RULE_TESTS)],
        capture_output=True, text=True, check=False, cwd=RULE_TESTS[0].parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS), result.stdout


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    cases: dict[str, dict[str, int]] = {}
    for test in rule_tests():
        for case in test.get("alert_rule_test", []):
            kind = "firing" if case.get("exp_alerts") else "quiet"
            counts = cases.setdefault(case["alertname"], {"firing": 0, "quiet": 0})
            counts[kind] += 1
    names = {rule["alert"] for rule in alerts()}
    assert set(cases) <= names, f"tests for unknown alerts: {set(cases) - names}"
    for name in sorted(names):
        assert cases.get(name, {}).get("firing"), f"{name}: no case where it fires"
        assert cases.get(name, {}).get("quiet"), f"{name}: no case where it stays quiet"


def test_firing_cases_check_the_annotations() -> None:
    for test in rule_tests():
        for case in test.get("alert_rule_test", []):
            for alert in case.get("exp_alerts") or []:
                assert set(alert.get("exp_annotations", {})) == {"summary", "description"}, case


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_alert_has_for_severity_and_annotations_naming_host_and_container(
    rule: dict[str, Any],
) -> None:
    assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), "needs a for: duration"
    assert rule.get("labels", {}).get("severity") in SEVERITIES
    annotations = rule.get("annotations", {})
    assert set(annotations) >= {"summary", "description"}
    for text in (annotations["summary"], annotations["description"]):
        assert "$labels.instance" in text, "must name the host"
    names = queries.metric_names(rule["expr"])
    if any(name.startswith("podman_container_") for name in names):
        for text in (annotations["summary"], annotations["description"]):
            assert "$labels.name" in text, "must name the container"
    # per endpoint: name it; process-wide (or Prometheus's up): there is none to name
    per_endpoint = any(queries.has_endpoint(name) for name in names)
    for text in (annotations["summary"], annotations["description"]):
        assert ("$labels.endpoint" in text) == per_endpoint, "must name the endpoint"


@pytest.mark.parametrize("rule", queries.rules(RULES),
                         ids=lambda rule: rule.get("alert") or rule["record"])
def test_rules_keep_the_endpoint(rule: dict[str, Any]) -> None:
    """Every aggregation and vector matching keeps ``endpoint``: containers of the same name
    on two endpoints of a host stay apart, and recorded series are per endpoint."""
    for kept, labels in queries.groupings(rule["expr"]):
        assert ("endpoint" in labels) == kept, labels


def test_the_endpoint_check_can_fail() -> None:
    assert queries.groupings("sum by (instance) (podman_container_pids)") == [
        (True, ["instance"])]
    assert queries.groupings("a / on (instance) group_left () b") == [(True, ["instance"])]


def test_every_alert_has_a_runbook_and_every_runbook_an_alert() -> None:
    headings = set(re.findall(r"^### (\w+)$", RUNBOOKS.read_text(), re.MULTILINE))
    names = {rule["alert"] for rule in alerts()}
    assert names - headings == set(), "alerts without a runbook in docs/alerts.md"
    assert headings - names == set(), "runbooks of alerts that do not exist"


def test_recording_rules_follow_the_naming_convention_and_are_documented() -> None:
    doc = RUNBOOKS.read_text()
    for name in queries.recorded_names(RULES):
        level, metric, operation = name.split(":")
        assert level.startswith("instance") and metric and operation, name
        assert f"`{name}`" in doc, f"{name} is not in docs/alerts.md"
        assert queries.selectors(name), name


def test_every_metric_the_rules_use_is_produced_by_the_exporter() -> None:
    goldens = queries.golden_files()
    assert goldens, "no golden exposition files in tests/golden"
    produced = queries.exposition_names(goldens) | queries.recorded_names(RULES)
    produced |= queries.PROMETHEUS_SERIES
    for rule in queries.rules(RULES):
        missing = queries.metric_names(rule["expr"]) - produced
        assert not missing, f"{rule.get('alert') or rule.get('record')}: {missing}"


def test_the_metric_name_check_can_fail() -> None:
    produced = queries.exposition_names(queries.golden_files())
    assert "podman_container_cpu_seconds_total" in produced
    assert queries.metric_names("rate(podman_container_cpu_total[5m])") - produced == {
        "podman_container_cpu_total"
    }


def test_the_state_recording_rule_names_every_state_by_its_value() -> None:
    (expr,) = [r["expr"] for r in queries.rules(RULES)
               if r.get("record") == "instance_state:podman_containers:count"]
    assert queries.state_labels(expr) == STATE_WORDS


def test_rules_compare_the_state_only_for_equality_with_existing_values() -> None:
    """``podman_container_state > 2`` and the like break when a state is added (6 removing
    and 7 stopping were); a state is named by its value."""
    for rule in queries.rules(RULES):
        for op, value in queries.state_comparisons(rule["expr"]):
            where = f"{rule.get('alert') or rule.get('record')}: {op} {value}"
            assert op in {"==", "!="}, where
            assert value in STATE_WORDS, where


def test_state_label_matchers_name_states_the_recording_rule_produces() -> None:
    for rule in queries.rules(RULES):
        for matchers in queries.selectors(rule["expr"]):
            if "state" in matchers:
                words = set(matchers["state"][1].split("|"))
                assert words <= set(STATE_WORDS.values()), rule.get("alert") or rule["record"]


def test_the_state_checks_can_fail() -> None:
    assert queries.state_comparisons("2 < (podman_container_state)") == [("<", 2.0)]
    assert queries.state_comparisons("changes(podman_container_state[5m]) > 2") == []
    renamed = 'label_replace(podman_container_state == bool 0, "state", "configured", "", "")'
    assert queries.state_labels(renamed) != {0.0: STATE_WORDS[0.0]}
    with pytest.raises(ValueError, match="not one"):
        queries.state_labels('label_replace(podman_container_state >= 3, "state", "x", "", "")')
