"""Snapshot -> metric families: a pure function, no I/O, no clock reads.

Each call builds fresh families, so series of vanished containers, images,
pods or volumes vanish with them. A snapshot section that is None leaves its
families out; a family without series is left out too.
"""

from __future__ import annotations

from prometheus_client.core import Metric

from podman_exporter.metrics.containers import container_families
from podman_exporter.metrics.events import event_families
from podman_exporter.metrics.exporter import exporter_families, process_families
from podman_exporter.metrics.family import labelled
from podman_exporter.metrics.host import host_families
from podman_exporter.metrics.images import image_families
from podman_exporter.metrics.networks import network_families
from podman_exporter.metrics.options import MetricOptions
from podman_exporter.metrics.pods import pod_families, volume_families
from podman_exporter.snapshot.snapshot import Snapshot

__all__ = ["ENDPOINT_LABEL", "MetricOptions", "build_families", "endpoint_families",
           "exporter_families", "podman_families", "process_families", "served_families"]

ENDPOINT_LABEL = "endpoint"
"""The label naming the Podman endpoint on every series but the process's own."""


def endpoint_families(families: list[Metric], snapshot: Snapshot) -> list[Metric]:
    """Return ``families`` of one endpoint's snapshot with its ``endpoint`` label."""
    return labelled(families, ENDPOINT_LABEL, snapshot.endpoint)


def served_families(snapshot: Snapshot, options: MetricOptions) -> list[Metric]:
    """Return the families of one endpoint's ``snapshot`` as /metrics serves them: the
    process's, then the endpoint's with its ``endpoint`` label."""
    return process_families(options) + endpoint_families(
        exporter_families(snapshot, options) + podman_families(snapshot, options), snapshot)


def build_families(snapshot: Snapshot, options: MetricOptions) -> list[Metric]:
    """Return the metric families of one endpoint's ``snapshot``, without its
    ``endpoint`` label (the exposition adds it): the process's first, then the
    endpoint's own (exporter) families, containers, events, images, pods, volumes,
    networks and host."""
    return process_families(options) + exporter_families(snapshot, options) \
        + podman_families(snapshot, options)


def podman_families(snapshot: Snapshot, options: MetricOptions) -> list[Metric]:
    """Return the families of what Podman reported (containers, events, images, pods,
    volumes, networks, host), without the exporter's own."""
    families: list[Metric] = []
    if snapshot.containers is not None:
        families += container_families(snapshot.containers, snapshot.stats, options,
                                       snapshot.sizes)
    if snapshot.events is not None:
        families += event_families(snapshot.events, snapshot.containers or ())
    if snapshot.images is not None:
        families += image_families(snapshot.images)
    if snapshot.pods is not None:
        families += pod_families(snapshot.pods)
    if snapshot.volumes is not None:
        families += volume_families(snapshot.volumes)
    if snapshot.networks is not None:
        families += network_families(snapshot.networks)
    if snapshot.host is not None:
        families += host_families(snapshot.host, snapshot.taken_at, info=options.host_info)
    return families
