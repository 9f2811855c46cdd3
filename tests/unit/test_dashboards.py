"""The Grafana dashboards: generated and current, valid against the dashboard model of
grafana-foundation-sdk, following the conventions, and using only metrics that exist."""

from __future__ import annotations

import enum
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import require_modules

require_modules("promql_parser", "grafana_foundation_sdk")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "dashboards"))

import generate  # noqa: E402
from dashgen import common, queries  # noqa: E402
from grafana_foundation_sdk.cog.encoder import JSONEncoder  # noqa: E402
from grafana_foundation_sdk.cog.plugins import register_default_plugins  # noqa: E402
from grafana_foundation_sdk.models.dashboard import Dashboard  # noqa: E402

from podman_exporter.snapshot.model import ContainerState  # noqa: E402

FILES = queries.dashboard_files()
RATE_SENTINEL = "4m17s"
"""Stands in for ``$__rate_interval`` so the ranges that use it can be told apart."""

SHOWN = frozenset({
    "podman_up", "podman_scrape_collector_success",
    "podman_exporter_last_success_timestamp_seconds",
    "instance_state:podman_containers:count", "podman_container_info", "podman_container_state",
    "podman_container_created_seconds", "podman_container_cpu_seconds_total",
    "podman_container_mem_usage_bytes", "podman_container_mem_limit_bytes",
    "podman_container_net_input_total", "podman_container_net_output_total",
    "podman_container_block_input_total", "podman_container_block_output_total",
    "podman_container_pids", "podman_container_exit_code", "instance:podman_image_size_bytes:sum",
    "podman_host_memory_total_bytes", "podman_host_memory_free_bytes",
    "podman_host_swap_free_bytes", "podman_host_swap_total_bytes", "podman_host_uptime_seconds",
    "podman_container_exits_total", "podman_container_restarts_total",
    "podman_container_oom_events_total", "podman_exporter_event_stream_up",
})
"""What the dashboards must show."""

register_default_plugins()


def parseable(expr: str) -> str:
    """Return the query with the dashboard variables replaced by valid PromQL."""
    return queries.substitute(expr, {
        "job": "$job", "instance": "$instance", "endpoint": "$endpoint", "container": "$container",
        "__rate_interval": RATE_SENTINEL,
    })


def test_dashboard_files_are_the_two_expected() -> None:
    assert [p.name for p in FILES] == sorted(generate.DASHBOARDS)


@pytest.mark.parametrize("name", sorted(generate.DASHBOARDS))
def test_committed_json_matches_the_generator(name: str) -> None:
    text = generate.rendered()[name]
    assert (queries.DASHBOARD_DIR / name).read_text() == text, (
        "out of date: run python dashboards/generate.py"
    )


def _type_errors(value: Any, hint: Any, where: str) -> list[str]:
    """Return where ``value`` does not match the SDK model type ``hint``."""
    origin = typing.get_origin(hint)
    if hint is typing.Any or hint is object:
        return []
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if value is None or a is not type(None)]
        matching = [a for a in args if isinstance(a, type) and isinstance(value, a)]
        options = [_type_errors(value, arg, where) for arg in matching or args]
        return [] if any(not errors for errors in options) else min(options, key=len)
    if origin is typing.Literal:
        return [] if value in typing.get_args(hint) else [f"{where}: {value!r} not in {hint}"]
    if hint is type(None):
        return [] if value is None else [f"{where}: expected null"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        (item,) = typing.get_args(hint)
        return [e for i, v in enumerate(value) for e in _type_errors(v, item, f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: expected an object"]
        _, item = typing.get_args(hint)
        return [e for k, v in value.items() for e in _type_errors(v, item, f"{where}.{k}")]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        valid = {member.value for member in hint}
        return [] if value in valid else [f"{where}: {value!r} not one of {sorted(valid)}"]
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected a number"]
    if hint in (str, int, bool):
        ok = isinstance(value, hint) and (hint is bool or not isinstance(value, bool))
        return [] if ok else [f"{where}: expected {hint.__name__}, got {value!r}"]
    if isinstance(hint, type) and isinstance(value, dict) and hasattr(hint, "from_json"):
        # The SDK leaves some nested models (panel transformations) as plain objects.
        model = hint.from_json(value)
        if json.loads(json.dumps(model, cls=JSONEncoder)) != value:
            return [f"{where}: keys outside the {hint.__name__} model"]
        return _model_errors(model, where)
    if isinstance(hint, type):
        if not isinstance(value, hint):
            return [f"{where}: expected {hint.__name__}, got {type(value).__name__}"]
        return _model_errors(value, where)
    return []


def _model_errors(model: Any, where: str) -> list[str]:
    """Return the fields of an SDK model object whose values do not match their types."""
    hints = typing.get_type_hints(type(model), vars(sys.modules[type(model).__module__]))
    return [
        error
        for field, hint in hints.items()
        if hasattr(model, field)
        for error in _type_errors(getattr(model, field), hint, f"{where}.{field}")
    ]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_dashboard_matches_the_sdk_dashboard_model(path: Path) -> None:
    """The SDK's models are generated from Grafana's dashboard schema: a file that reads
    back to itself has no key outside the schema, and every value has the schema's type."""
    data = queries.load(path)
    model = Dashboard.from_json(data)
    assert json.loads(json.dumps(model, cls=JSONEncoder)) == data
    assert _model_errors(model, "dashboard") == []


def test_the_model_check_can_fail() -> None:
    data = queries.load(FILES[0])
    data["panels"][1]["options"]["colourMode"] = "value"
    model = Dashboard.from_json(data)
    assert json.loads(json.dumps(model, cls=JSONEncoder)) != data
    data = queries.load(FILES[0])
    data["graphTooltip"] = 7
    data["panels"][1]["gridPos"]["w"] = "wide"
    table = next(p for p in data["panels"] if p["type"] == "table")
    table["transformations"][0]["option"] = {}
    errors = _model_errors(Dashboard.from_json(data), "dashboard")
    assert len(errors) == 3, errors


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_variables_datasource_job_instance_endpoint(path: Path) -> None:
    board = queries.load(path)
    assert "${DS_" not in path.read_text()
    assert "__inputs" not in board
    listed = board["templating"]["list"]
    variables = {v["name"]: v for v in listed}
    assert [v["name"] for v in listed][:4] == ["datasource", "job", "instance", "endpoint"]
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("job", "instance", "endpoint"):
        assert variables[name]["type"] == "query"
        assert variables[name]["multi"] is True
        assert variables[name]["includeAll"] is True
        assert variables[name]["allValue"] == ".+"
        assert variables[name]["datasource"]["uid"] == "${datasource}"
    assert variables["endpoint"]["query"] == (
        'label_values(podman_up{job=~"$job", instance=~"$instance"}, endpoint)'
    )


def test_the_container_variable_lists_the_picked_endpoints_containers() -> None:
    board = queries.load(queries.DASHBOARD_DIR / "podman-container.json")
    (query,) = [q for q in queries.variable_queries(queries.DASHBOARD_DIR / "podman-container.json")
                if q.panel == "variable container"]
    (matchers,) = queries.selectors(parseable(query.expr))
    assert matchers["endpoint"] == ("MatchOp.Re", "$endpoint")
    assert matchers["instance"] == ("MatchOp.Re", "$instance")
    names = [v["name"] for v in board["templating"]["list"]]
    assert names.index("container") > names.index("endpoint")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_uid_ids_units_and_datasources(path: Path) -> None:
    board = queries.load(path)
    assert board["uid"] == path.stem
    ids = [panel["id"] for panel in queries.panels(board)]
    assert len(ids) == len(set(ids))
    for panel in queries.panels(board):
        if panel["type"] == "row":
            continue
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{panel['title']}: no unit"
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"], f"{panel['title']}: no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"


def test_dashboard_uids_differ() -> None:
    uids = [queries.load(p)["uid"] for p in FILES]
    assert len(set(uids)) == len(uids)


ALL_QUERIES = [q for path in FILES for q in queries.panel_queries(path)]


@pytest.mark.parametrize("query", ALL_QUERIES, ids=str)
def test_query_parses_uses_rate_interval_and_selects_the_picked_hosts_and_endpoints(
    query: queries.PanelQuery,
) -> None:
    expr = parseable(query.expr)
    ranges = queries.range_selectors(expr)
    assert len(ranges) == expr.count("[")
    assert set(ranges) <= {RATE_SENTINEL, common.ALERT_WINDOW}, (
        "every range must be $__rate_interval, or the window of the alert a panel shows"
    )
    for name, matchers in queries.named_selectors(expr):
        assert matchers.get("job") == ("MatchOp.Re", "$job")
        assert matchers.get("instance") == ("MatchOp.Re", "$instance")
        # endpoint=~".+" (All) would not match the series that have no endpoint label
        expected = ("MatchOp.Re", "$endpoint") if queries.has_endpoint(name) else None
        assert matchers.get("endpoint") == expected, name


@pytest.mark.parametrize("query", ALL_QUERIES, ids=str)
def test_containers_stay_apart_per_endpoint_and_legends_name_it(
    query: queries.PanelQuery,
) -> None:
    """Two endpoints of one host may run containers of the same name: an aggregation that
    keeps ``name`` or ``id`` keeps ``endpoint`` too; a legend naming the host names the
    endpoint when the series keep it, and not when a per-host sum dropped it."""
    expr = parseable(query.expr)
    for kept, labels in queries.groupings(expr):
        if kept and {"name", "id"} & set(labels):
            assert {"instance", "endpoint"} <= set(labels), labels
        if not kept:
            assert "endpoint" not in labels, labels
    if "{{instance}}" in query.legend:
        assert ("{{endpoint}}" in query.legend) == queries.keeps_label(expr, "endpoint"), (
            query.legend
        )


def test_the_endpoint_checks_can_fail() -> None:
    assert queries.groupings("sum by (instance, name) (x)") == [(True, ["instance", "name"])]
    assert not queries.keeps_label('sum by (instance) (x{endpoint=~"$endpoint"})', "endpoint")
    assert queries.keeps_label("topk(10, rate(x[5m]))", "endpoint")
    assert not queries.has_endpoint("podman_exporter_build_info")
    assert queries.has_endpoint("instance:podman_containers:count")


def test_fixed_windows_are_those_of_the_alerts_the_panels_show() -> None:
    windows: dict[str, set[str]] = {}
    for rule in queries.rules():
        if "alert" in rule:
            for name in queries.metric_names(rule["expr"]):
                windows.setdefault(name, set()).update(queries.range_selectors(rule["expr"]))
    fixed = [q for q in ALL_QUERIES
             if common.ALERT_WINDOW in queries.range_selectors(parseable(q.expr))]
    assert fixed, "no panel uses ALERT_WINDOW: remove it"
    for query in fixed:
        for name in queries.metric_names(parseable(query.expr)):
            assert windows.get(name) == {common.ALERT_WINDOW}, f"{query}: {name}"


def test_every_metric_the_dashboards_use_is_produced_by_the_exporter() -> None:
    goldens = queries.golden_files()
    assert goldens, "no golden exposition files in tests/golden"
    produced = queries.exposition_names(goldens) | queries.recorded_names()
    used: set[str] = set()
    for query in ALL_QUERIES + [q for p in FILES for q in queries.variable_queries(p)]:
        names = queries.metric_names(parseable(query.expr))
        assert names, f"{query}: selects no metric"
        assert names <= produced, f"{query}: {names - produced}"
        used |= names
    assert used >= SHOWN, f"not on any dashboard: {SHOWN - used}"


def test_provisioning_examples() -> None:
    provisioning = queries.DASHBOARD_DIR / "provisioning"
    provider = yaml.safe_load((provisioning / "dashboards.yml").read_text())
    assert provider["apiVersion"] == 1
    (entry,) = provider["providers"]
    assert entry["type"] == "file" and entry["options"]["path"]
    source = yaml.safe_load((provisioning / "datasource.yml").read_text())
    (datasource,) = source["datasources"]
    assert datasource["type"] == "prometheus" and datasource["url"].startswith("http")


def _value_mappings(panel: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the value mappings of a panel, its defaults' and its overrides'."""
    field_config = panel.get("fieldConfig", {})
    found = list(field_config.get("defaults", {}).get("mappings", []))
    for override in field_config.get("overrides", []):
        for prop in override["properties"]:
            if prop["id"] == "mappings":
                found.extend(prop["value"])
    return [m for m in found if m["type"] == "value"]


def test_state_mapping_names_every_podman_container_state_value() -> None:
    names = {state.value: state.name.lower() for state in ContainerState}
    assert names == common.STATE_NAMES
    assert set(common.STATE_COLORS) == set(names)
    for path in FILES:
        state_maps = [
            {int(value): result["text"] for value, result in mapping["options"].items()}
            for panel in queries.panels(queries.load(path))
            for mapping in _value_mappings(panel)
            if any(r["text"] == "running" for r in mapping["options"].values())
        ]
        assert state_maps, f"{path.name}: no container state mapping"
        assert all(m == names for m in state_maps), path.name


@pytest.mark.parametrize("query", ALL_QUERIES, ids=str)
def test_query_compares_the_state_only_for_equality_with_existing_values(
    query: queries.PanelQuery,
) -> None:
    values = {float(state.value) for state in ContainerState}
    for op, value in queries.state_comparisons(parseable(query.expr)):
        assert op in {"==", "!="} and value in values, f"{op} {value}"


MAPPED_METRICS = {
    "running": "podman_container_state",
    "healthy": "podman_container_health",
    "up": "podman_up",
    "connected": "podman_exporter_event_stream_up",
}
"""A value mapping's tell-tale name, and the metric whose values it names."""


def _mapped_targets(panel: dict[str, Any]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Return each value mapping of a panel with the query targets it applies to: all of
    them for the defaults', the matched ones for an override's."""
    targets = [t for t in panel.get("targets", []) if "expr" in t]
    renamed = {new: old for transformation in panel.get("transformations", [])
               for old, new in transformation.get("options", {}).get("renameByName", {}).items()}
    field_config = panel.get("fieldConfig", {})
    found = [(m, targets) for m in field_config.get("defaults", {}).get("mappings", [])]
    for override in field_config.get("overrides", []):
        matcher = override["matcher"]
        ref = renamed.get(matcher["options"], matcher["options"]).removeprefix("Value #")
        if matcher["id"] not in {"byFrameRefID", "byName"}:
            raise AssertionError(f"unchecked override matcher {matcher['id']}")
        for prop in override["properties"]:
            if prop["id"] == "mappings":
                found += [(m, [t for t in targets if t.get("refId") == ref])
                          for m in prop["value"]]
    return [(m, t) for m, t in found if m["type"] == "value"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_value_mappings_apply_only_to_the_series_they_name(path: Path) -> None:
    checked = 0
    for panel in queries.panels(queries.load(path)):
        for mapping, targets in _mapped_targets(panel):
            texts = {r["text"] for r in mapping["options"].values()}
            metric = next(MAPPED_METRICS[t] for t in texts if t in MAPPED_METRICS)
            assert targets, f"{panel['title']}: a mapping that applies to no query"
            for target in targets:
                names = queries.metric_names(parseable(target["expr"]))
                assert names == {metric}, (
                    f"{panel['title']}: the {metric} mapping also names {target['expr']}")
            checked += 1
    assert checked, f"{path.name}: no value mapping checked"
