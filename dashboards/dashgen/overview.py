"""The ``podman-overview`` dashboard: every host picked, its containers, images and health."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from dashgen.common import (
    BYTES,
    BYTES_RATE,
    CORES,
    COUNT,
    DATE,
    NONE,
    PERCENT,
    RATE,
    SECONDS,
    SEL,
    STATE_COLORS,
    STATE_NAMES,
    finish,
    grid,
    query,
    row,
    single,
    ts,
    value_map,
    variables,
)

UID = "podman-overview"
UP = value_map({0: "down", 1: "up"}, {0: "red", 1: "green"})
STATE = value_map(STATE_NAMES, STATE_COLORS)


def _sum_rate(metric: str) -> str:
    """Return the per-container rate of a counter, summed over its series."""
    return f"sum by (instance, name) (rate({metric}{{{SEL}}}[{RATE}]))"


def _health(board: db.Dashboard) -> db.Dashboard:
    """Return the board with the exporter and collection health row added."""
    return (
        board.with_row(row("Health"))
        .with_panel(
            single(
                "Podman up",
                NONE,
                [query(f"podman_up{{{SEL}}}", "{{instance}}")],
                description="Whether Podman answered the last collection.",
                mappings=[UP],
            )
        )
        .with_panel(
            single(
                "Last full collection",
                SECONDS,
                [
                    query(
                        f"time() - podman_exporter_last_success_timestamp_seconds{{{SEL}}}",
                        "{{instance}}",
                    )
                ],
                description="Age of the last collection in which every collector succeeded.",
            )
        )
        .with_panel(
            single(
                "Containers",
                COUNT,
                [query(f"instance:podman_containers:count{{{SEL}}}", "{{instance}}")],
            )
        )
        .with_panel(
            single(
                "Running",
                COUNT,
                [
                    query(
                        f'instance_state:podman_containers:count{{{SEL}, state="running"}}',
                        "{{instance}}",
                    )
                ],
            )
        )
        .with_panel(
            single("Images", COUNT, [query(f"podman_store_images{{{SEL}}}", "{{instance}}")])
        )
        .with_panel(
            single(
                "Host uptime",
                SECONDS,
                [query(f"podman_host_uptime_seconds{{{SEL}}}", "{{instance}}")],
            )
        )
        .with_panel(
            ts(
                "Collector success",
                NONE,
                [query(f"podman_scrape_collector_success{{{SEL}}}", "{{instance}} {{collector}}")],
                description="1 when the collector succeeded in the last collection.",
                width=8,
                max_val=1,
            )
        )
        .with_panel(
            ts(
                "Collection duration",
                SECONDS,
                [
                    query(
                        f"podman_scrape_collector_duration_seconds{{{SEL}}}",
                        "{{instance}} {{collector}}",
                    )
                ],
                width=8,
            )
        )
        .with_panel(
            ts(
                "Collection errors and bad records",
                "ops",
                [
                    query(
                        f"rate(podman_exporter_collection_errors_total{{{SEL}}}[{RATE}])",
                        "errors {{instance}} {{collector}}",
                    ),
                    query(
                        f"rate(podman_exporter_bad_records_total{{{SEL}}}[{RATE}])",
                        "bad records {{instance}} {{collector}}",
                    ),
                ],
                width=8,
            )
        )
    )


def _containers(board: db.Dashboard) -> db.Dashboard:
    """Return the board with the container resource rows added."""
    return (
        board.with_row(row("Containers"))
        .with_panel(
            ts(
                "Containers by state",
                COUNT,
                [
                    query(
                        f"instance_state:podman_containers:count{{{SEL}}}", "{{instance}} {{state}}"
                    )
                ],
                stack=True,
            )
        )
        .with_panel(
            ts(
                "Top containers by CPU",
                CORES,
                [
                    query(
                        f"topk(10, rate(podman_container_cpu_seconds_total{{{SEL}}}[{RATE}]))",
                        "{{instance}} {{name}}",
                    )
                ],
                description="CPU seconds per second (cores).",
            )
        )
        .with_panel(
            ts(
                "Top containers by memory",
                BYTES,
                [
                    query(
                        f"topk(10, podman_container_mem_usage_bytes{{{SEL}}})",
                        "{{instance}} {{name}}",
                    )
                ],
            )
        )
        .with_panel(
            ts(
                "Memory usage vs limit",
                PERCENT,
                [
                    query(
                        f"podman_container_mem_usage_bytes{{{SEL}}}"
                        f" / (podman_container_mem_limit_bytes{{{SEL}}} > 0)",
                        "{{instance}} {{name}}",
                    )
                ],
                description="Usage as a share of the limit (without a limit, of the host memory).",
                max_val=1,
            )
        )
        .with_panel(
            ts(
                "Network I/O",
                BYTES_RATE,
                [
                    query(
                        _sum_rate("podman_container_net_input_total"), "rx {{instance}} {{name}}"
                    ),
                    query(
                        _sum_rate("podman_container_net_output_total"), "tx {{instance}} {{name}}"
                    ),
                ],
                width=8,
            )
        )
        .with_panel(
            ts(
                "Block I/O",
                BYTES_RATE,
                [
                    query(
                        _sum_rate("podman_container_block_input_total"),
                        "read {{instance}} {{name}}",
                    ),
                    query(
                        _sum_rate("podman_container_block_output_total"),
                        "write {{instance}} {{name}}",
                    ),
                ],
                width=8,
            )
        )
        .with_panel(
            ts(
                "PIDs",
                COUNT,
                [query(f"podman_container_pids{{{SEL}}}", "{{instance}} {{name}}")],
                width=8,
            )
        )
    )


def _host(board: db.Dashboard) -> db.Dashboard:
    """Return the board with the host and storage row added."""
    return (
        board.with_row(row("Host and storage"))
        .with_panel(
            ts(
                "CPU used by containers",
                PERCENT,
                [query(f"instance:podman_container_cpu:ratio5m{{{SEL}}}", "{{instance}}")],
                description="Sum of container CPU over the host's CPUs (5m rate, recording rule).",
                width=8,
            )
        )
        .with_panel(
            ts(
                "Host memory",
                BYTES,
                [
                    query(f"podman_host_memory_total_bytes{{{SEL}}}", "total {{instance}}"),
                    query(f"podman_host_memory_free_bytes{{{SEL}}}", "free {{instance}}"),
                    query(
                        f"instance:podman_container_mem_usage_bytes:sum{{{SEL}}}",
                        "containers {{instance}}",
                    ),
                ],
                width=8,
            )
        )
        .with_panel(
            ts(
                "Host swap",
                BYTES,
                [
                    query(f"podman_host_swap_free_bytes{{{SEL}}}", "free {{instance}}"),
                    query(f"podman_host_swap_total_bytes{{{SEL}}}", "total {{instance}}"),
                ],
                description="Swap total is reported by the REST API only.",
                width=8,
            )
        )
        .with_panel(
            ts(
                "Image storage",
                BYTES,
                [
                    query(f"instance:podman_image_size_bytes:sum{{{SEL}}}", "images {{instance}}"),
                    query(
                        f"sum by (instance) (podman_container_rw_size_bytes{{{SEL}}})",
                        "container layers {{instance}}",
                    ),
                ],
                description="Images counted once however many tags they have.",
                width=8,
            )
        )
        .with_panel(
            ts(
                "Images and containers in store",
                COUNT,
                [
                    query(f"podman_store_images{{{SEL}}}", "images {{instance}}"),
                    query(f"podman_store_containers{{{SEL}}}", "containers {{instance}}"),
                ],
                width=8,
            )
        )
        .with_panel(
            grid(
                "Podman version",
                NONE,
                [
                    query(f"podman_version_info{{{SEL}}}", instant=True),
                    query(f"podman_host_info{{{SEL}}}", instant=True),
                ],
                [
                    dm.DataTransformerConfig(id_val="merge", options={}),
                    dm.DataTransformerConfig(
                        id_val="organize",
                        options={
                            "excludeByName": {
                                "Time": True,
                                "Value #A": True,
                                "Value #B": True,
                                "__name__": True,
                                "job": True,
                            }
                        },
                    ),
                ],
                width=8,
                height=8,
            )
        )
    )


def _table(board: db.Dashboard) -> db.Dashboard:
    """Return the board with the containers table added."""
    renames = {
        "Value #B": "State",
        "Value #C": "Created",
        "Value #D": "CPU",
        "Value #E": "Memory",
        "Value #F": "Exit code",
    }
    overrides = [
        ("State", [dm.DynamicConfigValue(id_val="mappings", value=[STATE])]),
        ("Created", [dm.DynamicConfigValue(id_val="unit", value=DATE)]),
        ("CPU", [dm.DynamicConfigValue(id_val="unit", value=CORES)]),
        ("Memory", [dm.DynamicConfigValue(id_val="unit", value=BYTES)]),
    ]
    return board.with_row(row("Containers table")).with_panel(
        grid(
            "Containers",
            NONE,
            [
                query(f"podman_container_info{{{SEL}}}", instant=True),
                query(f"podman_container_state{{{SEL}}}", instant=True),
                query(f"podman_container_created_seconds{{{SEL}}} * 1000", instant=True),
                query(f"rate(podman_container_cpu_seconds_total{{{SEL}}}[{RATE}])", instant=True),
                query(f"podman_container_mem_usage_bytes{{{SEL}}}", instant=True),
                query(f"podman_container_exit_code{{{SEL}}}", instant=True),
            ],
            [
                dm.DataTransformerConfig(id_val="merge", options={}),
                dm.DataTransformerConfig(
                    id_val="organize",
                    options={
                        "excludeByName": {
                            "Time": True,
                            "Value #A": True,
                            "__name__": True,
                            "job": True,
                            "image_id": True,
                            "pod_id": True,
                        },
                        "renameByName": renames,
                    },
                ),
            ],
            description="Exit code is known on the REST API only.",
            overrides=overrides,
        )
    )


def build() -> dm.Dashboard:
    """Return the overview dashboard."""
    board = (
        db.Dashboard("Podman overview")
        .uid(UID)
        .description("Podman hosts monitored by podman-exporter: health, containers, host, images.")
        .tags(["podman", "containers"])
        .time("now-1h", "now")
        .refresh("30s")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .variables(variables())
        .link(
            db.DashboardLink("Container")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags(["podman"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )
    for section in (_health, _containers, _host, _table):
        board = section(board)
    return finish(board)
