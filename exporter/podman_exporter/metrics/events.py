"""Families of Podman's event stream: exits, restarts and OOM kills per container, events
by type and action, and whether the stream is connected. A pure function, no I/O.

Sample of the exposition (classic text, HELP lines shortened)::

    # TYPE podman_container_exits_total counter
    podman_container_exits_total{id="5d0e71aa02c4",name="job",pod_id="",pod_name=""} 14.0
    # TYPE podman_container_restarts_total counter
    podman_container_restarts_total{id="5d0e71aa02c4",name="job",pod_id="",pod_name=""} 13.0
    # TYPE podman_container_oom_events_total counter
    podman_container_oom_events_total{id="5d0e71aa02c4",name="job",pod_id="",pod_name=""} 2.0
    # TYPE podman_events_total counter
    podman_events_total{action="died",type="container"} 14.0
    # TYPE podman_exporter_event_stream_up gauge
    podman_exporter_event_stream_up 1.0
    # TYPE podman_exporter_event_stream_bad_events_total counter
    podman_exporter_event_stream_bad_events_total 0.0
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client.core import Metric

from podman_exporter.metrics.containers import BASE_LABELS
from podman_exporter.metrics.family import Family, finish
from podman_exporter.metrics.labels import clean, short_id
from podman_exporter.snapshot.events import EventsSnapshot
from podman_exporter.snapshot.model import Container


def event_families(events: EventsSnapshot, containers: Sequence[Container]) -> list[Metric]:
    """Return the event families. Container series exist for the containers that are both
    listed in ``containers`` (their labels) and counted in ``events`` (by full id), ordered
    by name then id; the first of two containers with the same labels wins, as in every
    container family. The OOM series is absent while a container's count is unknown."""
    exits = Family("counter", "podman_container_exits_total",
                   "Times the container exited (Podman's died events).", BASE_LABELS)
    restarts = Family(
        "counter", "podman_container_restarts_total",
        "Times the container was restarted, by its restart policy or by podman restart "
        "(Podman's restart events).", BASE_LABELS)
    ooms = Family(
        "counter", "podman_container_oom_events_total",
        "Times the kernel's OOM killer killed a process of the container (from the "
        "kernel log, the container's memory cgroup or Podman's oom events).", BASE_LABELS)
    totals = Family("counter", "podman_events_total", "Podman events seen, by type and action.",
                    ("type", "action"))
    up = Family("gauge", "podman_exporter_event_stream_up",
                "Whether the exporter is connected to Podman's event stream (1) or not (0).", ())
    bad = Family("counter", "podman_exporter_event_stream_bad_events_total",
                 "Lines of Podman's event stream that were not events.", ())

    seen: set[tuple[str, ...]] = set()
    for c in sorted(containers, key=lambda c: (c.name, c.id)):
        base = (c.short_id, c.name, short_id(c.pod_id), c.pod_name)
        key = tuple(clean(v) for v in base)
        if key in seen:
            continue
        seen.add(key)
        counts = events.containers.get(c.id)
        if counts is None:
            continue
        exits.add(base, counts.exits)
        restarts.add(base, counts.restarts)
        ooms.add(base, counts.oom_kills)
    for (kind, action), count in sorted(events.events_total.items()):
        totals.add((kind, action), count)
    if events.stream_up is not None:
        up.add((), 1.0 if events.stream_up else 0.0)
        bad.add((), events.bad_events_total)
    return finish([exits, restarts, ooms, totals, up, bad])
