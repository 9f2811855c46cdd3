"""The host, storage and containers-table sections of the ``podman-overview`` dashboard."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from dashgen.common import (
    BYTES,
    CORES,
    COUNT,
    DATE,
    NONE,
    PERCENT,
    RATE,
    SEL,
    STATE,
    grid,
    query,
    row,
    ts,
)


def host_section(board: db.Dashboard) -> db.Dashboard:
    """Return the board with the host and storage row added."""
    return (
        board.with_row(row("Host and storage"))
        .with_panel(
            ts(
                "CPU used by containers",
                PERCENT,
                [
                    query(
                        f"instance:podman_container_cpu:ratio5m{{{SEL}}}",
                        "{{instance}} {{endpoint}}",
                    )
                ],
                description="Sum of each Podman's container CPU over the CPUs of the machine it "
                "runs on (5m rate, recording rule); the Podmans of one machine add up.",
                width=8,
            )
        )
        .with_panel(
            ts(
                "Host memory",
                BYTES,
                [
                    query(
                        f"podman_host_memory_total_bytes{{{SEL}}}",
                        "total {{instance}} {{endpoint}}",
                    ),
                    query(
                        f"podman_host_memory_free_bytes{{{SEL}}}", "free {{instance}} {{endpoint}}"
                    ),
                    query(
                        f"instance:podman_container_mem_usage_bytes:sum{{{SEL}}}",
                        "containers {{instance}} {{endpoint}}",
                    ),
                ],
                description="Memory of the machine each Podman runs on, and what its "
                "containers use.",
                width=8,
            )
        )
        .with_panel(
            ts(
                "Host swap",
                BYTES,
                [
                    query(
                        f"podman_host_swap_free_bytes{{{SEL}}}", "free {{instance}} {{endpoint}}"
                    ),
                    query(
                        f"podman_host_swap_total_bytes{{{SEL}}}", "total {{instance}} {{endpoint}}"
                    ),
                ],
                description="Swap of the machine each Podman runs on. Swap total is reported "
                "by the REST API only.",
                width=8,
            )
        )
        .with_panel(
            ts(
                "Image storage",
                BYTES,
                [
                    query(
                        f"instance:podman_image_size_bytes:sum{{{SEL}}}",
                        "images {{instance}} {{endpoint}}",
                    ),
                    query(
                        f"sum by (instance, endpoint) (podman_container_rw_size_bytes{{{SEL}}})",
                        "container layers {{instance}} {{endpoint}}",
                    ),
                ],
                description="Per Podman store. Images counted once however many tags they have.",
                width=8,
            )
        )
        .with_panel(
            ts(
                "Images and containers in store",
                COUNT,
                [
                    query(f"podman_store_images{{{SEL}}}", "images {{instance}} {{endpoint}}"),
                    query(
                        f"podman_store_containers{{{SEL}}}", "containers {{instance}} {{endpoint}}"
                    ),
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


def table_section(board: db.Dashboard) -> db.Dashboard:
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
