"""The immutable result of one collection: everything the metric families are built from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from podman_exporter.snapshot.events import EventsSnapshot
from podman_exporter.snapshot.model import (
    Container,
    ContainerSize,
    ContainerStats,
    HostInfo,
    Image,
    Network,
    Pod,
    Volume,
)


@dataclass(frozen=True, slots=True)
class CollectorStatus:
    """How one collector fared in the collection that produced the snapshot."""

    name: str
    success: bool
    duration_seconds: float
    errors_total: int = 0
    """Failed runs of this collector since the exporter started."""
    bad_records_total: int = 0
    """Malformed records from Podman this collector dropped since the exporter started."""
    error: str | None = None
    """Why its last run failed; None after a success."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What Podman reported. A section is ``None`` when it was never collected,
    its collector is disabled or unsupported by the backend, or its data grew
    older than ``--collect.max-age``: its series are then absent."""

    taken_at: float
    """Unix time at which the collection that produced this snapshot ended."""
    up: bool
    """Whether Podman answered in that collection."""
    endpoint: str = ""
    """Name of the Podman endpoint (the ``endpoint`` label of its series)."""
    url: str = ""
    """Where that Podman is reached (shown on the landing page, never a label)."""
    api: str = ""
    """``varlink`` or ``rest``; empty before Podman first answered."""
    containers: tuple[Container, ...] | None = None
    stats: Mapping[str, ContainerStats] | None = None
    """Stats of running and paused containers, by full container id."""
    sizes: Mapping[str, ContainerSize] | None = None
    """Disk use of containers, by full container id (collected on its own schedule)."""
    images: tuple[Image, ...] | None = None
    host: HostInfo | None = None
    pods: tuple[Pod, ...] | None = None
    volumes: tuple[Volume, ...] | None = None
    networks: tuple[Network, ...] | None = None
    collectors: tuple[CollectorStatus, ...] = ()
    last_success: float | None = None
    """Unix time of the last collection in which every enabled collector succeeded."""
    admin_actions: Mapping[tuple[str, str], int] = field(
        default_factory=lambda: MappingProxyType({})
    )
    """Admin actions performed since start, by (action, result)."""
    events: EventsSnapshot | None = None
    """Counts from Podman's event stream (or derived from listings on varlink); None
    while the backend is not resolved."""
    publish_failures: int = 0
    """Collections whose Podman series could not be rendered, since start (set by the
    exposition cache)."""
    last_publish: float | None = None
    """``taken_at`` of the last collection whose Podman series were rendered without
    error; None before one was (set by the exposition cache)."""
