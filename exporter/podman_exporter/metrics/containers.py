"""Container families: info, state, sizes, times, health and resource usage.

Sample of the exposition (classic text, HELP lines shortened)::

    # TYPE podman_container_info gauge
    podman_container_info{id="3c1a5e2f9b7d",name="web",image="docker.io/library/nginx:1.25",image_id="a8758716bb6a",ports="0.0.0.0:8080->80/tcp, 0.0.0.0:8443->443/tcp",pod_id="",pod_name="",label_app="shop"} 1.0
    # TYPE podman_container_state gauge
    podman_container_state{id="3c1a5e2f9b7d",name="web",pod_id="",pod_name=""} 2.0
    # TYPE podman_container_created_seconds gauge
    podman_container_created_seconds{id="3c1a5e2f9b7d",name="web",pod_id="",pod_name=""} 1.7e+09
    # TYPE podman_container_cpu_seconds_total counter
    podman_container_cpu_seconds_total{id="3c1a5e2f9b7d",name="web",pod_id="",pod_name=""} 12.5
    # TYPE podman_container_mem_usage_bytes gauge
    podman_container_mem_usage_bytes{id="3c1a5e2f9b7d",name="web",pod_id="",pod_name=""} 7.168e+06
    # TYPE podman_container_net_input_packets_total counter
    podman_container_net_input_packets_total{id="3c1a5e2f9b7d",name="web",pod_id="",pod_name=""} 26.0
    # TYPE podman_container_exit_code gauge
    podman_container_exit_code{id="5d0e71aa02c4",name="job",pod_id="",pod_name=""} 1.0
    # TYPE podman_container_health gauge
    podman_container_health{id="3c1a5e2f9b7d",name="web",pod_id="",pod_name=""} 0.0
"""  # noqa: E501

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from prometheus_client.core import Metric

from podman_exporter.metrics.family import Family, finish
from podman_exporter.metrics.labels import (
    CONTAINER_INFO_LABELS,
    clean,
    container_label_names,
    short_id,
)
from podman_exporter.metrics.options import MetricOptions
from podman_exporter.snapshot.model import Container, ContainerSize, ContainerStats

BASE_LABELS = ("id", "name", "pod_id", "pod_name")
INFO_LABELS = CONTAINER_INFO_LABELS


def _base(c: Container) -> tuple[str, str, str, str]:
    """Return the label values every container series carries."""
    return (c.short_id, c.name, short_id(c.pod_id), c.pod_name)


def whole_seconds(seconds: float | None) -> float | None:
    """Return whole seconds, as the Go exporter's ``Created.Unix()`` (floored)."""
    return float(math.floor(seconds)) if seconds is not None and math.isfinite(seconds) \
        else seconds


def _net_counts(s: ContainerStats) -> tuple[int | None, ...]:
    """Return the packets, errors and drops received, then sent."""
    return (s.net_input_packets, s.net_input_errors, s.net_input_dropped,
            s.net_output_packets, s.net_output_errors, s.net_output_dropped)


def _gauge(name: str, doc: str, unit: str = "") -> Family:
    return Family("gauge", name, doc, BASE_LABELS, unit)


def _counter(name: str, doc: str, unit: str = "") -> Family:
    return Family("counter", name, doc, BASE_LABELS, unit)


def container_families(
    containers: Sequence[Container],
    stats: Mapping[str, ContainerStats] | None,
    options: MetricOptions,
    sizes: Mapping[str, ContainerSize] | None = None,
) -> list[Metric]:
    """Return the container families, series ordered by container name then id.

    Stats and size families carry series only for containers that have an entry in
    ``stats`` / ``sizes`` (by full id); fields that are None are left out.
    """
    extra = container_label_names(options.container_labels, options.container_label_style)
    info = Family(
        "info",
        "podman_container_info",
        "Podman container; the value is always 1.",
        INFO_LABELS + tuple(name for _, name in extra),
    )
    state = _gauge(
        "podman_container_state",
        "Container state: -1 unknown, 0 created, 1 initialized, 2 running, 3 stopped, "
        "4 paused, 5 exited, 6 removing, 7 stopping.",
    )
    created = _gauge(
        "podman_container_created_seconds", "Container creation time, Unix seconds.", "seconds"
    )
    rootfs = _gauge(
        "podman_container_rootfs_size_bytes", "Size of the container's root filesystem.", "bytes"
    )
    rw = _gauge(
        "podman_container_rw_size_bytes",
        "Size of the files the container added or changed in its writable layer.",
        "bytes",
    )
    exit_code = _gauge("podman_container_exit_code", "Exit code of the container's last run.")
    started = _gauge(
        "podman_container_started_seconds",
        "Time the container last started, Unix seconds.",
        "seconds",
    )
    exited = _gauge(
        "podman_container_exited_seconds",
        "Time the container last exited, Unix seconds.",
        "seconds",
    )
    health = _gauge(
        "podman_container_health",
        "Container health: -1 unknown, 0 healthy, 1 unhealthy, 2 starting.",
    )
    cpu = _counter("podman_container_cpu_seconds_total", "CPU time used.", "seconds")
    cpu_system = _counter(
        "podman_container_cpu_system_seconds_total", "CPU time used in kernel mode.", "seconds"
    )
    mem_usage = _gauge("podman_container_mem_usage_bytes", "Memory in use.", "bytes")
    mem_limit = _gauge("podman_container_mem_limit_bytes", "Memory limit.", "bytes")
    net_in = _counter("podman_container_net_input_total", "Bytes received over the network.")
    net_out = _counter("podman_container_net_output_total", "Bytes sent over the network.")
    net_counts = [  # in the order of _net_counts
        _counter(f"podman_container_net_{way}_{what}_total", f"{doc} (Podman 5.0 and later).")
        for way, what, doc in (
            ("input", "packets", "Packets received over the network"),
            ("input", "errors", "Receive errors on the container's network interfaces"),
            ("input", "dropped", "Received packets dropped"),
            ("output", "packets", "Packets sent over the network"),
            ("output", "errors", "Transmit errors on the container's network interfaces"),
            ("output", "dropped", "Packets to send dropped"),
        )
    ]
    block_in = _counter("podman_container_block_input_total", "Bytes read from block devices.")
    block_out = _counter("podman_container_block_output_total", "Bytes written to block devices.")
    pids = _gauge("podman_container_pids", "Number of processes in the container.")

    seen: set[tuple[str, ...]] = set()
    for c in sorted(containers, key=lambda c: (c.name, c.id)):
        base = _base(c)
        key = tuple(clean(v) for v in base)
        if key in seen:  # same 12-char id, name and pod as an earlier container
            continue
        seen.add(key)
        ports = ", ".join(p.render() for p in c.ports)
        label_values = (c.labels.get(key, "") for key, _ in extra)
        info.add(
            (c.short_id, c.name, c.image, short_id(c.image_id), ports, *base[2:], *label_values)
        )
        state.add(base, c.state.value)
        created.add(base, whole_seconds(c.created))
        size = None if sizes is None else sizes.get(c.id)
        if size is not None:
            rootfs.add(base, size.rootfs_bytes)
            rw.add(base, size.rw_bytes)
        exit_code.add(base, c.exit_code)
        started.add(base, c.started)
        exited.add(base, c.exited)
        health.add(base, None if c.health is None else c.health.value)
        s = None if stats is None else stats.get(c.id)
        if s is None:
            continue
        cpu.add(base, s.cpu_seconds)
        cpu_system.add(base, s.cpu_system_seconds)
        mem_usage.add(base, s.mem_usage_bytes)
        mem_limit.add(base, s.mem_limit_bytes)
        net_in.add(base, s.net_input_bytes)
        net_out.add(base, s.net_output_bytes)
        for family, count in zip(net_counts, _net_counts(s), strict=True):
            family.add(base, count)
        block_in.add(base, s.block_input_bytes)
        block_out.add(base, s.block_output_bytes)
        pids.add(base, s.pids)

    return finish(
        [
            info,
            state,
            created,
            rootfs,
            rw,
            exit_code,
            started,
            exited,
            health,
            cpu,
            cpu_system,
            mem_usage,
            mem_limit,
            net_in,
            net_out,
            *net_counts,
            block_in,
            block_out,
            pids,
        ]
    )
