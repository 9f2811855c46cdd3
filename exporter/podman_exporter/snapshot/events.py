"""The immutable counts built from Podman's event stream (``collect.events.EventCounters``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class ContainerEvents:
    """What happened to one container since the exporter first saw it."""

    exits: int = 0
    """``died`` events."""
    restarts: int = 0
    """``restart`` events: restart policy and ``podman restart`` alike, except the one
    Podman logs for a container that never ran (a pod's infra container at pod start)."""
    oom_kills: int | None = None
    """OOM kills: the largest of the counts of Podman's ``oom`` events, of the kernel
    log's reports and of the memory cgroup; None while none is known."""


@dataclass(frozen=True, slots=True)
class EventsSnapshot:
    """Counts from the event stream of one Podman endpoint."""

    containers: Mapping[str, ContainerEvents] = field(
        default_factory=lambda: MappingProxyType({})
    )
    """By full container id; only once the stream has been connected (before, a count
    of 0 could be wrong)."""
    events_total: Mapping[tuple[str, str], int] = field(
        default_factory=lambda: MappingProxyType({})
    )
    """Every event seen, by (type, action)."""
    stream_up: bool | None = False
    """Whether the event stream is connected now; None when the backend has none
    (varlink: the counts are derived from listings)."""
    bad_events_total: int = 0
    """Lines of the stream that were not events."""
    version: int = 0
    """Grows with every change of the counts: equal versions, equal snapshots."""
