"""The Go-exporter dashboard queries of tests/compat/go_queries.yaml: they parse, and every
metric and label they name is one this exporter documents and exports.

The same queries are evaluated against a real Prometheus by
tests/e2e/test_compat_dashboards.py.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from support import require_modules

require_modules("promql_parser")
import promql_parser  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "dashboards"))

from dashgen import queries  # noqa: E402

QUERIES_FILE = REPO / "tests" / "compat" / "go_queries.yaml"
SPEC: dict[str, Any] = yaml.safe_load(QUERIES_FILE.read_text())
QUERIES: list[dict[str, Any]] = SPEC["queries"]
VALUES = {"instance": "127.0.0.1:9882", "__rate_interval": "1m"}
SCRAPE_LABELS = frozenset({"instance", "job", "__name__"})
NEEDS = frozenset({"rest", "podman5"})


def golden_labels() -> dict[str, set[str]]:
    """Return the label names of every metric in tests/golden/rest.txt (every family)."""
    text = (REPO / "tests" / "golden" / "rest.txt").read_text(encoding="utf-8")
    out: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, set()).update(sample.labels)
    return out


GOLDEN = golden_labels()
CONTAINER_LABELS = frozenset(SPEC["container_labels"])
"""Podman label keys the exporter exports in the Go style: labels of podman_container_info."""


def labels_of(metric: str) -> set[str]:
    """Return the labels ``metric`` carries: the golden's, plus the Go-style container
    labels on podman_container_info."""
    extra = CONTAINER_LABELS if metric == "podman_container_info" else frozenset()
    return GOLDEN.get(metric, set()) | extra


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """Return (metric name, label names matched) of every vector selector of ``expr``."""
    found: list[tuple[str, set[str]]] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append((node.name or "", {m.name for m in node.matchers.matchers}))

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def test_the_file_is_well_formed() -> None:
    names = [q["name"] for q in QUERIES]
    assert len(names) == len(set(names)) and len(names) >= 40
    for q in QUERIES:
        assert set(q) <= {"name", "expr", "labels", "needs", "truth"}, q["name"]
        assert q.get("needs", "rest") in NEEDS, q["name"]
        assert q.get("labels") or q.get("truth"), f"{q['name']}: nothing to check"


@pytest.mark.parametrize("query", QUERIES, ids=[q["name"] for q in QUERIES])
def test_query_parses_and_names_documented_metrics(query: dict[str, Any]) -> None:
    expr = queries.substitute(query["expr"], VALUES)
    names = queries.metric_names(expr)  # parses with promql-parser; raises if it cannot
    assert names, f"{query['name']}: selects no metric"
    documented = ((REPO / "docs" / "metrics.md").read_text()
                  + (REPO / "docs" / "compatibility.md").read_text())
    for name in names:
        assert f"`{name}`" in documented, f"{name} is in neither metrics.md nor compatibility.md"
        assert name in GOLDEN, f"{name} is not in tests/golden/rest.txt"


@pytest.mark.parametrize("query", QUERIES, ids=[q["name"] for q in QUERIES])
def test_query_labels_are_labels_of_its_metrics(query: dict[str, Any]) -> None:
    expr = queries.substitute(query["expr"], VALUES)
    selected = queries.metric_names(expr)
    for metric, matched in selectors(expr):
        unknown = matched - SCRAPE_LABELS - labels_of(metric)
        assert not unknown, f"{query['name']}: {metric} has no label {unknown}"
    available = set().union(*(labels_of(m) for m in selected))
    for label in query.get("labels", []):
        assert label in available, f"{query['name']}: no selected metric has {label}"


def test_every_go_metric_of_the_compatibility_doc_is_queried() -> None:
    """Each Go metric we export appears in at least one query (the doc's table lists them)."""
    doc = (REPO / "docs" / "compatibility.md").read_text()
    table = [line for line in doc.splitlines() if line.startswith("| `podman_")]
    exported = {line.split("`")[1] for line in table if "| same" in line or "| differs" in line}
    queried = set().union(*(queries.metric_names(queries.substitute(q["expr"], VALUES))
                            for q in QUERIES))
    assert exported, "no Go metric found in the compatibility table"
    assert exported <= queried, f"not queried: {sorted(exported - queried)}"
