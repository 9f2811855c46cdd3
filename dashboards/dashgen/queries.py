"""Read back what the dashboards and rules query: targets, variables, metric names.

Used by the tests (unit and end to end) to check every query against the
exporter's exposition and against a real Prometheus.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import yaml
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO / "dashboards"
RULES_FILE = REPO / "alerts" / "podman.rules.yml"
GOLDEN_DIR = REPO / "tests" / "golden"
PROMETHEUS_SERIES = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})
"""Series Prometheus makes itself: rules may use them, the exporter does not produce them."""
PROCESS_WIDE = frozenset({
    "podman_exporter_build_info",
    "podman_exporter_admin_actions_total",
    "podman_exporter_publish_failures_total",
    "podman_exporter_last_publish_success_timestamp_seconds",
})
"""The exporter's series of the whole process, which carry no ``endpoint`` label (nor do
``process_*`` and ``python_*``); every other series of the exporter has one."""
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class PanelQuery:
    """One query target of one panel."""

    dashboard: str
    panel: str
    ref: str
    expr: str
    legend: str = ""

    def __str__(self) -> str:
        """Return ``dashboard / panel / ref`` for messages."""
        return f"{self.dashboard} / {self.panel} / {self.ref}"


def dashboard_files() -> list[Path]:
    """Return the dashboard JSON files shipped in dashboards/."""
    return sorted(DASHBOARD_DIR.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    """Return the parsed dashboard JSON."""
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def panels(board: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield every panel, including those nested in collapsed rows."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def panel_queries(path: Path) -> list[PanelQuery]:
    """Return every query target of every panel of a dashboard file."""
    board = load(path)
    return [
        PanelQuery(
            path.name,
            panel.get("title", ""),
            target.get("refId", ""),
            target["expr"],
            target.get("legendFormat", ""),
        )
        for panel in panels(board)
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def variable_queries(path: Path) -> list[PanelQuery]:
    """Return the PromQL selector inside each ``label_values(...)`` variable query."""
    out = []
    for var in load(path).get("templating", {}).get("list", []):
        query = var.get("query")
        if var.get("type") == "query" and isinstance(query, str):
            match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query.strip())
            if match:
                out.append(PanelQuery(path.name, f"variable {var['name']}", "", match.group(1)))
    return out


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Return ``expr`` with Grafana variables (``$name``, ``${name}``) replaced.

    Raises KeyError naming a variable missing from ``values``.
    """
    return _VARIABLE.sub(lambda m: values[m.group(1) or m.group(2)], expr)


def metric_names(expr: str) -> set[str]:
    """Return the metric names a PromQL expression selects (by name or ``__name__=``)."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__" and matcher.op == promql_parser.MatchOp.Equal:
                    names.add(matcher.value)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def range_selectors(expr: str) -> list[str]:
    """Return the range of every ``[...]`` selector and subquery, as Prometheus prints it."""
    ranges: list[str] = []

    def visit(node: Any) -> None:
        is_range = isinstance(node, promql_parser.MatrixSelector | promql_parser.SubqueryExpr)
        if is_range and node.range is not None:
            ranges.append(promql_parser.display_duration(node.range))

    promql_parser.walk(promql_parser.parse(expr), visit)
    return ranges


def selectors(expr: str) -> list[dict[str, tuple[str, str]]]:
    """Return each vector selector's matchers as ``{label: (op, value)}``."""
    out: list[dict[str, tuple[str, str]]] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            out.append({m.name: (str(m.op), m.value) for m in node.matchers.matchers})

    promql_parser.walk(promql_parser.parse(expr), visit)
    return out


def has_endpoint(name: str) -> bool:
    """Return whether the series named ``name`` carry the ``endpoint`` label: those of
    Podman, the exporter's per-endpoint series and what rules record from them."""
    process = name in PROCESS_WIDE or name.startswith(("process_", "python_"))
    return not (process or name in PROMETHEUS_SERIES)


_RANKING = frozenset({"topk", "bottomk", "limitk", "limit_ratio"})
"""Aggregations that return some of their input series, labels untouched."""


def groupings(expr: str) -> list[tuple[bool, list[str]]]:
    """Return every label list that decides which labels a result keeps: ``by`` and ``on``
    (``True``, the labels kept), ``without`` and ``ignoring`` (``False``, those dropped); an
    aggregation without either (``sum(x)``) gives ``(True, [])``. Ranking aggregations
    (``topk``) keep their series' labels and give nothing."""
    found: list[tuple[bool, list[str]]] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.AggregateExpr) and str(node.op) not in _RANKING:
            if node.modifier is None:
                found.append((True, []))
            else:
                by = node.modifier.type == promql_parser.AggModifierType.By
                found.append((by, list(node.modifier.labels)))
        if isinstance(node, promql_parser.BinaryExpr) and node.modifier is not None:
            matching = node.modifier.matching
            if matching is not None:
                on = matching.type == promql_parser.LabelModifierType.Include
                found.append((on, list(matching.labels)))

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def keeps_label(expr: str, label: str) -> bool:
    """Return whether the series an expression returns may carry ``label``: a selector's do;
    an aggregation's when ``by`` names it or ``without`` does not (a ranking one's when its
    input's do); a function's or operator's when an operand's do. An approximation
    (``on`` in one-to-one matching is not followed), enough for the dashboards' queries."""

    def keeps(node: Any) -> bool:
        node = _unwrap(node)
        if isinstance(node, promql_parser.VectorSelector | promql_parser.MatrixSelector):
            return True
        if isinstance(node, promql_parser.SubqueryExpr):
            return keeps(node.expr)
        if isinstance(node, promql_parser.AggregateExpr):
            if str(node.op) in _RANKING:
                return keeps(node.expr)
            if node.modifier is None:
                return False
            named = label in node.modifier.labels
            by = node.modifier.type == promql_parser.AggModifierType.By
            return (named if by else not named) and keeps(node.expr)
        if isinstance(node, promql_parser.BinaryExpr):
            return keeps(node.lhs) or keeps(node.rhs)
        if isinstance(node, promql_parser.Call):
            return any(keeps(arg) for arg in node.args)
        return False

    return keeps(promql_parser.parse(expr))


def named_selectors(expr: str) -> list[tuple[str, dict[str, tuple[str, str]]]]:
    """Return each vector selector's metric name (by name or ``__name__=``, else ``""``)
    and its other matchers as ``{label: (op, value)}``."""
    out: list[tuple[str, dict[str, tuple[str, str]]]] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            matchers = {m.name: (str(m.op), m.value) for m in node.matchers.matchers}
            name = matchers.pop("__name__", ("", node.name or ""))[1]
            out.append((node.name or name, matchers))

    promql_parser.walk(promql_parser.parse(expr), visit)
    return out


STATE_METRIC = "podman_container_state"
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})


def _unwrap(node: Any) -> Any:
    """Return ``node`` without the parentheses around it."""
    while isinstance(node, promql_parser.ParenExpr):
        node = node.expr
    return node


def _is_state(node: Any) -> bool:
    """Return whether ``node`` is a plain ``podman_container_state`` selector."""
    node = _unwrap(node)
    return isinstance(node, promql_parser.VectorSelector) and node.name == STATE_METRIC


def state_comparisons(expr: str) -> list[tuple[str, float]]:
    """Return ``(operator, number)`` of every comparison of ``podman_container_state``
    itself with a number (``podman_container_state == bool 2`` gives ``("==", 2.0)``)."""
    found: list[tuple[str, float]] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.BinaryExpr) and str(node.op) in _COMPARISONS:
            for state, other in ((node.lhs, node.rhs), (node.rhs, node.lhs)):
                number = _unwrap(other)
                if _is_state(state) and isinstance(number, promql_parser.NumberLiteral):
                    found.append((str(node.op), number.val))

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def state_labels(expr: str) -> dict[float, str]:
    """Return, for each ``label_replace(... podman_container_state == bool N ..., "state",
    "WORD", ...)`` of an expression, ``{N: WORD}``.

    Raises ValueError when such a label_replace does not select exactly one state.
    """
    labels: dict[float, str] = {}

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.Call) and node.func.name == "label_replace":
            target, label, word = node.args[0], node.args[1], node.args[2]
            if label.val == "state":
                comparisons = state_comparisons(str(target))
                if [op for op, _ in comparisons] != ["=="]:
                    raise ValueError(f"not one podman_container_state == N: {target}")
                labels[comparisons[0][1]] = word.val

    promql_parser.walk(promql_parser.parse(expr), visit)
    return labels


def rules(path: Path = RULES_FILE) -> list[dict[str, Any]]:
    """Return every rule (recording and alerting) of a Prometheus rule file."""
    data = yaml.safe_load(path.read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def recorded_names(path: Path = RULES_FILE) -> set[str]:
    """Return the series names the recording rules of a rule file produce."""
    return {rule["record"] for rule in rules(path) if "record" in rule}


def exposition_names(paths: Iterable[Path]) -> set[str]:
    """Return every sample name in exposition files in the classic text format."""
    names: set[str] = set()
    for path in paths:
        for family in text_string_to_metric_families(path.read_text()):
            names.update(sample.name for sample in family.samples)
    return names


def golden_files() -> list[Path]:
    """Return the golden exposition files in the classic text format.

    The ``hostile`` goldens are left out: they test escaping, not families, and
    prometheus_client's text parser splits label values at raw tabs.
    """
    return sorted(
        p
        for p in GOLDEN_DIR.glob("*")
        if p.suffix in {".txt", ".prom"}
        and "openmetrics" not in p.name
        and not p.name.startswith("hostile")
    )
