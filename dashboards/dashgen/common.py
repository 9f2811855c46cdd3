"""Building blocks shared by the dashboards: variables, queries and panels.

Conventions every dashboard follows: a ``datasource`` variable (no ``${DS_...}``
inputs, so file provisioning works), ``job``, ``instance`` and ``endpoint`` multi-select
variables, ``$__rate_interval`` in every rate (``ALERT_WINDOW`` where a panel shows what
an alert sees), a unit on every panel.

An ``instance`` is one exporter, that is one host; an ``endpoint`` one Podman service it
watches there (``root``, a user's login name, ``user@host`` for ssh). A panel meaning "per
host" sums ``by (instance)`` over the picked endpoints; one meaning "per Podman" keeps the
``endpoint`` label and names it in its legend.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders.common import (
    ReduceDataOptions,
    StackingConfig,
    VizLegendOptions,
)
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.variants import Dataquery
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
SEL = 'job=~"$job", instance=~"$instance", endpoint=~"$endpoint"'
"""Label matchers selecting the hosts and Podman endpoints picked in the dashboard variables.
Only for series carrying ``endpoint`` (every Podman series): the process-wide ones have none,
and ``endpoint=~".+"`` would not match them."""
RATE = "$__rate_interval"
ALERT_WINDOW = "15m"
"""The window of PodmanContainerCrashLooping and PodmanContainerOomKilled: a panel showing
what those alerts see uses it instead of ``$__rate_interval``."""

# Units (Grafana unit ids).
BYTES = "bytes"
BYTES_RATE = "Bps"
PERCENT = "percentunit"
SECONDS = "s"
COUNT = "short"
CORES = "short"
DATE = "dateTimeAsIso"
NONE = "none"

STATE_NAMES = {
    -1: "unknown",
    0: "created",
    1: "initialized",
    2: "running",
    3: "stopped",
    4: "paused",
    5: "exited",
    6: "removing",
    7: "stopping",
}
"""podman_container_state values, the numbering of prometheus-podman-exporter. The
recording rule ``instance_state:podman_containers:count`` uses the same names."""
STATE_COLORS = {
    -1: "gray",
    0: "blue",
    1: "blue",
    2: "green",
    3: "orange",
    4: "yellow",
    5: "red",
    6: "purple",
    7: "light-orange",
}


def value_map(names: dict[int, str], colors: dict[int, str]) -> dm.ValueMap:
    """Return a value mapping from numeric values to names and colours."""
    return dm.ValueMap(
        options={
            str(value): dm.ValueMappingResult(text=name, color=colors.get(value), index=i)
            for i, (value, name) in enumerate(sorted(names.items()))
        }
    )


STATE = value_map(STATE_NAMES, STATE_COLORS)
"""Names and colours of podman_container_state values."""
STREAM = value_map({0: "disconnected", 1: "connected"}, {0: "red", 1: "green"})
"""Names and colours of podman_exporter_event_stream_up values."""


def _host_variable(name: str, label: str, values: str) -> Builder[dm.VariableModel]:
    """Return a multi-select query variable with "All" (as ``.+``) picked."""
    return (
        db.QueryVariable(name)
        .label(label)
        .query(values)
        .datasource(DATASOURCE)
        .multi(True)
        .include_all(True)
        .all_value(".+")
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .current(dm.VariableOption(selected=True, text="All", value="$__all"))
    )


def dashboard(
    title: str, uid: str, description: str, extra: list[Builder[dm.VariableModel]] | None,
    link: str,
) -> db.Dashboard:
    """Return a dashboard with the common settings, variables and a dropdown link to the
    other Podman dashboards (titled ``link``)."""
    return (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["podman", "containers"])
        .time("now-1h", "now")
        .refresh("30s")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .variables(variables(extra))
        .link(
            db.DashboardLink(link)
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags(["podman"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )


def variables(
    extra: list[Builder[dm.VariableModel]] | None = None,
) -> list[Builder[dm.VariableModel]]:
    """Return the datasource, job, instance and endpoint variables, then ``extra``."""
    job = _host_variable("job", "Job", "label_values(podman_up, job)")
    instance = _host_variable(
        "instance", "Host", 'label_values(podman_up{job=~"$job"}, instance)'
    )
    endpoint = _host_variable(
        "endpoint",
        "Endpoint",
        'label_values(podman_up{job=~"$job", instance=~"$instance"}, endpoint)',
    )
    source = (
        db.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .current(dm.VariableOption(selected=True, text="default", value="default"))
    )
    return [source, job, instance, endpoint, *(extra or [])]


def query(expr: str, legend: str = "", *, instant: bool = False) -> prometheus.Dataquery:
    """Return a Prometheus query target; a table query is instant and table-formatted."""
    target = (
        prometheus.Dataquery()
        .expr(expr)
        .ref_id("A")
        .datasource(DATASOURCE)
        .legend_format(legend or "__auto")
    )
    if instant:
        return target.instant().format(pm.PromQueryFormat.TABLE)
    return target.range()


def _refs(targets: list[prometheus.Dataquery]) -> list[Builder[Dataquery]]:
    """Return the targets with reference ids A, B, C ... in order."""
    refs: list[Builder[Dataquery]] = [t.ref_id(chr(ord("A") + i)) for i, t in enumerate(targets)]
    return refs


def ts(
    title: str,
    unit: str,
    targets: list[prometheus.Dataquery],
    *,
    description: str = "",
    width: int = 12,
    height: int = 8,
    stack: bool = False,
    max_val: float | None = None,
) -> timeseries.Panel:
    """Return a time series panel."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(_refs(targets))
        .unit(unit)
        .span(width)
        .height(height)
        .fill_opacity(10)
        .legend(
            VizLegendOptions()
            .show_legend(True)
            .display_mode(cm.LegendDisplayMode.TABLE)
            .placement(cm.LegendPlacement.RIGHT)
            .calcs(["lastNotNull", "max"])
        )
    )
    if stack:
        panel = panel.stacking(StackingConfig().mode(cm.StackingMode.NORMAL))
    if max_val is not None:
        panel = panel.max(max_val).min(0)
    return panel


def single(
    title: str,
    unit: str,
    targets: list[prometheus.Dataquery],
    *,
    description: str = "",
    width: int = 4,
    height: int = 4,
    mappings: list[dm.ValueMap] | None = None,
) -> stat.Panel:
    """Return a stat panel showing the last value of each series."""
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(_refs(targets))
        .unit(unit)
        .span(width)
        .height(height)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .graph_mode(cm.BigValueGraphMode.AREA)
        .color_mode(cm.BigValueColorMode.VALUE)
    )
    if mappings:
        panel = panel.mappings(list(mappings))
    return panel


def grid(
    title: str,
    unit: str,
    targets: list[prometheus.Dataquery],
    transformations: list[dm.DataTransformerConfig],
    *,
    description: str = "",
    width: int = 24,
    height: int = 10,
    overrides: list[tuple[str, list[dm.DynamicConfigValue]]] | None = None,
) -> table.Panel:
    """Return a table panel from instant, table-formatted queries."""
    panel = (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(_refs(targets))
        .unit(unit)
        .span(width)
        .height(height)
        .transformations(transformations)
        .show_header(True)
    )
    for name, props in overrides or []:
        panel = panel.override_by_name(name, props)
    return panel


def row(title: str) -> db.Row:
    """Return a row header."""
    return db.Row(title)


def finish(board: db.Dashboard) -> dm.Dashboard:
    """Return the built dashboard with stable panel ids 1, 2, 3 ... in layout order."""
    built = board.build()
    for number, panel in enumerate(built.panels or [], start=1):
        panel.id_val = number
    return built
