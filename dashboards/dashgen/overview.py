"""The ``podman-overview`` dashboard: every host picked, its containers, images and health."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from dashgen.common import (
    ALERT_WINDOW,
    BYTES,
    BYTES_RATE,
    CORES,
    COUNT,
    NONE,
    PERCENT,
    RATE,
    SECONDS,
    SEL,
    STREAM,
    dashboard,
    finish,
    query,
    row,
    single,
    ts,
    value_map,
)
from dashgen.overview_host import host_section, table_section

UID = "podman-overview"
UP = value_map({0: "down", 1: "up"}, {0: "red", 1: "green"})


def _sum_rate(metric: str) -> str:
    """Return the per-container rate of a counter, summed over its series."""
    return f"sum by (instance, endpoint, name) (rate({metric}{{{SEL}}}[{RATE}]))"


def _health(board: db.Dashboard) -> db.Dashboard:
    """Return the board with the exporter and collection health row added."""
    return (
        board.with_row(row("Health"))
        .with_panel(
            single(
                "Podman up",
                NONE,
                [query(f"podman_up{{{SEL}}}", "{{instance}} {{endpoint}}")],
                description="Whether each Podman answered the last collection.",
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
                        "{{instance}} {{endpoint}}",
                    )
                ],
                description="Age of each Podman's last collection in which every collector "
                "succeeded.",
            )
        )
        .with_panel(
            single(
                "Containers",
                COUNT,
                [
                    query(
                        f"sum by (instance) (instance:podman_containers:count{{{SEL}}})",
                        "{{instance}}",
                    )
                ],
                description="Per host: the containers of its picked endpoints.",
            )
        )
        .with_panel(
            single(
                "Running",
                COUNT,
                [
                    query(
                        "sum by (instance) "
                        f'(instance_state:podman_containers:count{{{SEL}, state="running"}})',
                        "{{instance}}",
                    )
                ],
                description="Per host: the running containers of its picked endpoints.",
            )
        )
        .with_panel(
            single(
                "Images",
                COUNT,
                [query(f"sum by (instance) (podman_store_images{{{SEL}}})", "{{instance}}")],
                description="Per host: the images in the stores of its picked endpoints.",
            )
        )
        .with_panel(
            single(
                "Host uptime",
                SECONDS,
                [query(f"podman_host_uptime_seconds{{{SEL}}}", "{{instance}} {{endpoint}}")],
                description="Uptime of the machine each Podman runs on.",
            )
        )
        .with_panel(
            ts(
                "Collector success",
                NONE,
                [
                    query(
                        f"podman_scrape_collector_success{{{SEL}}}",
                        "{{instance}} {{endpoint}} {{collector}}",
                    )
                ],
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
                        "{{instance}} {{endpoint}} {{collector}}",
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
                        "errors {{instance}} {{endpoint}} {{collector}}",
                    ),
                    query(
                        f"rate(podman_exporter_bad_records_total{{{SEL}}}[{RATE}])",
                        "bad records {{instance}} {{endpoint}} {{collector}}",
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
                        "sum by (instance, state) "
                        f"(instance_state:podman_containers:count{{{SEL}}})",
                        "{{instance}} {{state}}",
                    )
                ],
                description="Per host: the containers of its picked endpoints.",
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
                        "{{instance}} {{endpoint}} {{name}}",
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
                        "{{instance}} {{endpoint}} {{name}}",
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
                        "{{instance}} {{endpoint}} {{name}}",
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
                        _sum_rate("podman_container_net_input_total"),
                        "rx {{instance}} {{endpoint}} {{name}}",
                    ),
                    query(
                        _sum_rate("podman_container_net_output_total"),
                        "tx {{instance}} {{endpoint}} {{name}}",
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
                        "read {{instance}} {{endpoint}} {{name}}",
                    ),
                    query(
                        _sum_rate("podman_container_block_output_total"),
                        "write {{instance}} {{endpoint}} {{name}}",
                    ),
                ],
                width=8,
            )
        )
        .with_panel(
            ts(
                "PIDs",
                COUNT,
                [query(f"podman_container_pids{{{SEL}}}", "{{instance}} {{endpoint}} {{name}}")],
                width=8,
            )
        )
    )


def _events(board: db.Dashboard) -> db.Dashboard:
    """Return the board with the restarts, OOM kills and event stream row added."""
    return (
        board.with_row(row("Restarts, OOM kills and event stream"))
        .with_panel(
            ts(
                "Restarts in 15 min (top 10)",
                COUNT,
                [
                    query(
                        f"topk(10, increase(podman_container_restarts_total{{{SEL}}}"
                        f"[{ALERT_WINDOW}]))",
                        "{{instance}} {{endpoint}} {{name}}",
                    )
                ],
                description="Restarts (by the restart policy or podman restart) in the last "
                "15 minutes, as PodmanContainerCrashLooping sees them: it fires at 3. On "
                "varlink derived from listings, so fast loops are undercounted.",
                width=8,
            )
        )
        .with_panel(
            ts(
                "OOM kills in 15 min (top 10)",
                COUNT,
                [
                    query(
                        f"topk(10, increase(podman_container_oom_events_total{{{SEL}}}"
                        f"[{ALERT_WINDOW}]))",
                        "{{instance}} {{endpoint}} {{name}}",
                    )
                ],
                description="Processes the kernel's OOM killer killed per container in the "
                "last 15 minutes, as PodmanContainerOomKilled sees them. Empty where the "
                "exporter has no OOM source (varlink, a remote Podman).",
                width=8,
            )
        )
        .with_panel(
            single(
                "Event stream",
                NONE,
                [query(f"podman_exporter_event_stream_up{{{SEL}}}", "{{instance}} {{endpoint}}")],
                description="Whether the exporter is connected to Podman's event stream "
                "(REST only). While it is not, exits, restarts and OOM kills from events "
                "are not counted and container changes wait for the next collection.",
                width=8,
                height=8,
                mappings=[STREAM],
            )
        )
    )


def build() -> dm.Dashboard:
    """Return the overview dashboard."""
    board = dashboard(
        "Podman overview",
        UID,
        "Podman hosts monitored by podman-exporter, and the Podman endpoints on each: health, "
        "containers, restarts and OOM kills, host, images.",
        None,
        link="Container",
    )
    for section in (_health, _containers, _events, host_section, table_section):
        board = section(board)
    return finish(board)
