"""The ``podman-container`` dashboard: one container picked by the ``container`` variable."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from dashgen.common import (
    BYTES,
    BYTES_RATE,
    CORES,
    COUNT,
    DATASOURCE,
    DATE,
    NONE,
    PERCENT,
    RATE,
    SEL,
    STATE,
    dashboard,
    finish,
    grid,
    query,
    row,
    single,
    ts,
    value_map,
)

UID = "podman-container"
CSEL = f'{SEL}, name="$container"'
"""Label matchers selecting the picked container."""
HEALTH = value_map(
    {-1: "unknown", 0: "healthy", 1: "unhealthy", 2: "starting"},
    {-1: "gray", 0: "green", 1: "red", 2: "blue"},
)


def _container_variable() -> db.QueryVariable:
    """Return the single-select ``container`` variable (container names on the picked hosts
    and endpoints; a name on several endpoints shows each of them)."""
    return (
        db.QueryVariable("container")
        .label("Container")
        .query(f"label_values(podman_container_info{{{SEL}}}, name)")
        .datasource(DATASOURCE)
        .multi(False)
        .include_all(False)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
    )


def _status(board: db.Dashboard) -> db.Dashboard:
    """Return the board with the status row added."""
    return (
        board.with_row(row("Status"))
        .with_panel(
            single(
                "State",
                NONE,
                [query(f"podman_container_state{{{CSEL}}}", "{{instance}} {{endpoint}}")],
                mappings=[STATE],
            )
        )
        .with_panel(
            single(
                "Created",
                DATE,
                [
                    query(
                        f"podman_container_created_seconds{{{CSEL}}} * 1000",
                        "{{instance}} {{endpoint}}",
                    )
                ],
            )
        )
        .with_panel(
            single(
                "CPU",
                CORES,
                [
                    query(
                        f"rate(podman_container_cpu_seconds_total{{{CSEL}}}[{RATE}])",
                        "{{instance}} {{endpoint}}",
                    )
                ],
            )
        )
        .with_panel(
            single(
                "Memory",
                BYTES,
                [query(f"podman_container_mem_usage_bytes{{{CSEL}}}", "{{instance}} {{endpoint}}")],
            )
        )
        .with_panel(
            single(
                "Root filesystem",
                BYTES,
                [
                    query(
                        f"podman_container_rootfs_size_bytes{{{CSEL}}}",
                        "rootfs {{instance}} {{endpoint}}",
                    ),
                    query(
                        f"podman_container_rw_size_bytes{{{CSEL}}}",
                        "writable {{instance}} {{endpoint}}",
                    ),
                ],
            )
        )
        .with_panel(
            single(
                "Exit code",
                NONE,
                [query(f"podman_container_exit_code{{{CSEL}}}", "{{instance}} {{endpoint}}")],
                description="Exit code of the last run. Known on the REST API only.",
                width=2,
            )
        )
        .with_panel(
            single(
                "Health",
                NONE,
                [query(f"podman_container_health{{{CSEL}}}", "{{instance}} {{endpoint}}")],
                description="Health check result. Known on the REST API only.",
                width=2,
                mappings=[HEALTH],
            )
        )
    )


def _events(board: db.Dashboard) -> db.Dashboard:
    """Return the board with the exits, restarts and OOM kills row added."""
    return board.with_row(row("Exits, restarts and OOM kills")).with_panel(
        ts(
            "Exits, restarts and OOM kills",
            COUNT,
            [
                query(
                    f"increase(podman_container_exits_total{{{CSEL}}}[{RATE}])",
                    "exits {{instance}} {{endpoint}}",
                ),
                query(
                    f"increase(podman_container_restarts_total{{{CSEL}}}[{RATE}])",
                    "restarts {{instance}} {{endpoint}}",
                ),
                query(
                    f"increase(podman_container_oom_events_total{{{CSEL}}}[{RATE}])",
                    "OOM kills {{instance}} {{endpoint}}",
                ),
            ],
            description="Per rate interval, from Podman's events. Restarts: by the restart "
            "policy or podman restart. On varlink exits and restarts are derived from "
            "listings (fast loops undercounted). OOM kills are absent where the exporter "
            "has no source for them (varlink, a remote Podman).",
            width=24,
        )
    )


def _usage(board: db.Dashboard) -> db.Dashboard:
    """Return the board with the resource usage row added."""
    return (
        board.with_row(row("Resources"))
        .with_panel(
            ts(
                "CPU",
                CORES,
                [
                    query(
                        f"rate(podman_container_cpu_seconds_total{{{CSEL}}}[{RATE}])",
                        "total {{instance}} {{endpoint}}",
                    ),
                    query(
                        f"rate(podman_container_cpu_system_seconds_total{{{CSEL}}}[{RATE}])",
                        "system {{instance}} {{endpoint}}",
                    ),
                ],
                description="CPU seconds per second (cores).",
            )
        )
        .with_panel(
            ts(
                "Memory",
                BYTES,
                [
                    query(
                        f"podman_container_mem_usage_bytes{{{CSEL}}}",
                        "usage {{instance}} {{endpoint}}",
                    ),
                    query(
                        f"podman_container_mem_limit_bytes{{{CSEL}}}",
                        "limit {{instance}} {{endpoint}}",
                    ),
                ],
            )
        )
        .with_panel(
            ts(
                "Memory vs limit",
                PERCENT,
                [
                    query(
                        f"podman_container_mem_usage_bytes{{{CSEL}}}"
                        f" / (podman_container_mem_limit_bytes{{{CSEL}}} > 0)",
                        "{{instance}} {{endpoint}}",
                    )
                ],
                max_val=1,
            )
        )
        .with_panel(
            ts(
                "Network I/O",
                BYTES_RATE,
                [
                    query(
                        f"rate(podman_container_net_input_total{{{CSEL}}}[{RATE}])",
                        "rx {{instance}} {{endpoint}}",
                    ),
                    query(
                        f"rate(podman_container_net_output_total{{{CSEL}}}[{RATE}])",
                        "tx {{instance}} {{endpoint}}",
                    ),
                ],
            )
        )
        .with_panel(
            ts(
                "Block I/O",
                BYTES_RATE,
                [
                    query(
                        f"rate(podman_container_block_input_total{{{CSEL}}}[{RATE}])",
                        "read {{instance}} {{endpoint}}",
                    ),
                    query(
                        f"rate(podman_container_block_output_total{{{CSEL}}}[{RATE}])",
                        "write {{instance}} {{endpoint}}",
                    ),
                ],
            )
        )
        .with_panel(
            ts(
                "PIDs",
                COUNT,
                [query(f"podman_container_pids{{{CSEL}}}", "{{instance}} {{endpoint}}")],
            )
        )
    )


def _info(board: db.Dashboard) -> db.Dashboard:
    """Return the board with the container's info table added."""
    return board.with_row(row("Info")).with_panel(
        grid(
            "Container info",
            NONE,
            [query(f"podman_container_info{{{CSEL}}}", instant=True)],
            [
                dm.DataTransformerConfig(
                    id_val="organize",
                    options={"excludeByName": {"Time": True, "Value": True, "__name__": True}},
                )
            ],
            height=5,
        )
    )


def build() -> dm.Dashboard:
    """Return the single-container dashboard."""
    board = dashboard(
        "Podman container",
        UID,
        "One Podman container: state, exits, restarts and OOM kills, CPU, memory, network,"
        " block I/O, pids.",
        [_container_variable()],
        link="Overview",
    )
    for section in (_status, _events, _usage, _info):
        board = section(board)
    return finish(board)
