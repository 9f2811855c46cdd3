"""Behaviour of build_families: exporter, host, pod and volume sections, general rules."""

from __future__ import annotations

import platform
from types import MappingProxyType

from metrics_support import OPTIONS, container, names, series

from podman_exporter import __version__
from podman_exporter.metrics import MetricOptions, build_families
from podman_exporter.metrics.labels import REFRESH_NOTE
from podman_exporter.snapshot.model import (
    ContainerStats,
    HostInfo,
    Image,
    Pod,
    PodState,
    Volume,
)
from podman_exporter.snapshot.snapshot import CollectorStatus, Snapshot

# --- sections, exporter, host, pods ------------------------------------------------


def test_podman_down_has_only_exporter_families() -> None:
    snap = Snapshot(
        7.0,
        False,
        collectors=(
            CollectorStatus("images", False, 0.5, errors_total=2),
            CollectorStatus("containers", True, 0.25),
        ),
    )
    families = build_families(snap, OPTIONS)
    assert all(
        n.startswith(("podman_up", "podman_scrape_", "podman_exporter_")) for n in names(families)
    )
    assert series(families, "podman_up") == [({}, 0)]
    assert [d["collector"] for d, _ in series(families, "podman_scrape_collector_success")] == [
        "containers",
        "images",
    ]
    assert series(families, "podman_exporter_collection_errors_total")[1] == (
        {"collector": "images"},
        2,
    )
    assert series(families, "podman_exporter_last_collection_timestamp_seconds") == [({}, 7.0)]
    assert "podman_exporter_last_success_timestamp_seconds" not in names(families)
    assert "podman_exporter_admin_actions_total" not in names(families)


def test_build_info_defaults_to_the_running_versions() -> None:
    families = build_families(Snapshot(1.0, True), MetricOptions())
    assert series(families, "podman_exporter_build_info") == [
        ({"version": __version__, "python_version": platform.python_version()}, 1)
    ]


def test_admin_actions_and_last_success() -> None:
    snap = Snapshot(
        1.0,
        True,
        last_success=0.5,
        admin_actions=MappingProxyType({("stop", "ok"): 2, ("kill", "error"): 1}),
    )
    families = build_families(snap, OPTIONS)
    assert series(families, "podman_exporter_admin_actions_total") == [
        ({"action": "kill", "result": "error"}, 1),
        ({"action": "stop", "result": "ok"}, 2),
    ]
    assert series(families, "podman_exporter_last_success_timestamp_seconds") == [({}, 0.5)]


def test_host_none_values_are_absent() -> None:
    host = HostInfo(hostname="h", cpus=2, swap_total_bytes=None, mem_total_bytes=0)
    families = build_families(Snapshot(1.0, True, host=host), OPTIONS)
    assert series(families, "podman_host_cpus") == [({}, 2)]
    assert series(families, "podman_host_memory_total_bytes") == [({}, 0)]
    assert "podman_host_swap_total_bytes" not in names(families)
    assert series(families, "podman_host_info")[0][0]["hostname"] == "h"
    assert len(series(families, "podman_version_info")) == 1


def test_host_details_can_be_left_out() -> None:
    """--no-collector.host.info drops hostname, kernel, versions and storage paths,
    and keeps the host's numbers."""
    host = HostInfo(hostname="secret-host", kernel="6.1.0", cpus=2, graph_root="/var/lib/x")
    shown = build_families(Snapshot(1.0, True, host=host), OPTIONS)
    hidden = build_families(Snapshot(1.0, True, host=host), MetricOptions(host_info=False))
    info = {"podman_host_info", "podman_store_info", "podman_version_info"}
    assert info <= names(shown)
    assert names(hidden) == names(shown) - info
    assert series(hidden, "podman_host_cpus") == [({}, 2)]
    text = "".join(str(s) for f in hidden for s in f.samples)
    assert "secret-host" not in text and "6.1.0" not in text and "/var/lib/x" not in text


def test_pods_and_volumes() -> None:
    pods = (
        Pod("p" * 64, "shop", "i" * 64, PodState.DEGRADED, 2),
        Pod("p" * 64, "shop", "x", PodState.RUNNING, 9),
    )
    volumes = (Volume("v", "local", "/b"), Volume("v", "local", "/a"), Volume("a"))
    families = build_families(Snapshot(1.0, True, pods=pods, volumes=volumes), OPTIONS)
    assert series(families, "podman_pod_info") == [
        ({"id": "p" * 12, "name": "shop", "infra_id": "i" * 12}, 1)
    ]
    assert [v for _, v in series(families, "podman_pod_state")] == [5]
    assert [v for _, v in series(families, "podman_pod_containers")] == [2]
    assert [d for d, _ in series(families, "podman_volume_info")] == [
        {"name": "a", "driver": "", "mount_point": ""},
        {"name": "v", "driver": "local", "mount_point": "/a"},
    ]


def test_negative_or_nan_counters_are_absent() -> None:
    c = container("a", "a")
    stats = MappingProxyType(
        {c.id: ContainerStats(c.id, cpu_seconds=-1.0, cpu_system_seconds=float("nan"), pids=-1)}
    )
    families = build_families(Snapshot(1.0, True, containers=(c,), stats=stats), OPTIONS)
    assert "podman_container_cpu_seconds_total" not in names(families)
    assert "podman_container_cpu_system_seconds_total" not in names(families)
    assert series(families, "podman_container_pids") == [
        ({"id": "a" * 12, "name": "a", "pod_id": "", "pod_name": ""}, -1)
    ]  # a gauge keeps what Podman said


def test_every_help_text_has_the_refresh_note() -> None:
    c = container("a", "a")
    snap = Snapshot(1.0, True, containers=(c,), host=HostInfo(), images=(Image("i"),))
    families = build_families(snap, OPTIONS)
    assert families
    assert all(f.documentation.endswith(REFRESH_NOTE) for f in families)


def test_fresh_families_every_call() -> None:
    snap = Snapshot(1.0, True, containers=(container("a", "a"),))
    first, second = build_families(snap, OPTIONS), build_families(snap, OPTIONS)
    assert first == second
    assert all(a is not b for a, b in zip(first, second, strict=True))
