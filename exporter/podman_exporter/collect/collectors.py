"""The collectors, listed once: name, default, what they fetch.

Command-line flags (``--collector.<name>`` / ``--no-collector.<name>``) and the
per-collector success, duration, error and bad-record metrics all come from
``COLLECTORS``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from podman_exporter.podman.backend import PartialFailure, PodmanBackend
from podman_exporter.podman.corrections import BootClock
from podman_exporter.snapshot.model import (
    Batch,
    Container,
    ContainerState,
    ContainerStats,
    HostInfo,
)

MEASURED_STATES = frozenset({ContainerState.RUNNING, ContainerState.PAUSED})
"""Containers whose resource usage Podman reports (a paused one's is frozen, not gone)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one collector fetched: the snapshot section's new value and the bad-record count."""

    value: object
    bad: int = 0
    error: str | None = None
    """Set when only part of the section could be fetched: the collector failed, the
    part that was fetched is still used."""


Fetch = Callable[[PodmanBackend, Mapping[str, object]], Outcome]
"""Fetch a section, given the sections already fetched in this collection."""

Stale = Callable[[object, Mapping[str, object]], bool]
"""Return whether a held section is out of date, given the sections fetched in this
collection (by collector name; a collector that did not answer is missing)."""


@dataclass(frozen=True, slots=True)
class CollectorSpec:
    """One collector: its name (also the Snapshot field it fills), whether it is on by
    default, what it needs fetched first, and the factory of its fetch function (called
    once per collection loop, so a fetch may keep state between runs)."""

    name: str
    default: bool
    help: str
    factory: Callable[[], Fetch]
    requires: tuple[str, ...] = ()
    interval: float | None = None
    """Default time between runs, for collectors slower than ``--collect.interval``;
    such a collector gets a ``--collector.<name>.interval`` flag."""
    stale: Stale | None = None
    """For a collector with an interval: whether its last value must be fetched again
    now, before its interval has passed (checked after the other collectors ran)."""


def _batch(batch: Batch[Any]) -> Outcome:
    return Outcome(batch.items, batch.bad)


def _containers() -> Fetch:
    return lambda backend, _: _batch(backend.list_containers())


def _stats() -> Fetch:
    def fetch(backend: PodmanBackend, done: Mapping[str, object]) -> Outcome:
        containers = done.get("containers")
        if not isinstance(containers, tuple):
            return Outcome(MappingProxyType({}))
        measured = [
            c.id for c in containers if isinstance(c, Container) and c.state in MEASURED_STATES
        ]
        error = None
        try:
            batch = backend.container_stats(measured) if measured else Batch()
        except PartialFailure as exc:
            batch, error = exc.batch, str(exc)
        by_id = MappingProxyType({s.id: s for s in batch.items if isinstance(s, ContainerStats)})
        return Outcome(by_id, batch.bad, error)

    return fetch


def _images() -> Fetch:
    return lambda backend, _: _batch(backend.list_images())


def _sizes() -> Fetch:
    def fetch(backend: PodmanBackend, _: Mapping[str, object]) -> Outcome:
        batch = backend.container_sizes()
        return Outcome(MappingProxyType({s.id: s for s in batch.items}), batch.bad)

    return fetch


def _host() -> Fetch:
    """Return a fetch of host info whose boot time comes from a BootClock kept across
    runs (the exported uptime is the collection's time minus the boot time)."""
    boot = BootClock()

    def fetch(backend: PodmanBackend, _: Mapping[str, object]) -> Outcome:
        asked = time.time()
        batch = backend.host_info()
        answered = time.time()
        host = batch.items[0]
        uptime = boot.observe(host.uptime_ranges, asked, answered) if host.uptime_ranges \
            else None
        booted = None if uptime is None else answered - uptime
        return Outcome(replace(host, boot_time=booted), batch.bad)

    return fetch


def _host_stale(held: object, done: Mapping[str, object]) -> bool:
    """Return whether Podman's info must be asked again before its interval: the boot
    time is still ambiguous, or the store's container or image count differs from the
    listings of this collection (Podman counts ``all=true`` listings in its store)."""
    if not isinstance(held, HostInfo):
        return True
    if held.boot_time is None and held.uptime_ranges:
        return True
    for section, count in (("containers", held.store_containers),
                           ("images", held.store_images)):
        listed = done.get(section)
        if isinstance(listed, tuple) and count is not None and len(listed) != count:
            return True
    return False


def _pods() -> Fetch:
    return lambda backend, _: _batch(backend.list_pods())


def _volumes() -> Fetch:
    return lambda backend, _: _batch(backend.list_volumes())


def _networks() -> Fetch:
    return lambda backend, _: _batch(backend.list_networks())


COLLECTORS: tuple[CollectorSpec, ...] = (
    CollectorSpec("containers", True, "containers: info, state, times, health", _containers),
    CollectorSpec("stats", True, "CPU, memory, network, block I/O and pids of running and "
                  "paused containers", _stats, requires=("containers",)),
    CollectorSpec("sizes", True, "containers' root filesystem and writable layer sizes "
                  "(costly for Podman: on a slower schedule)", _sizes, interval=300.0),
    CollectorSpec("images", True, "images: info, size, containers using them", _images),
    CollectorSpec("host", True, "host memory, CPUs, uptime, store and version (Podman's "
                  "info: costly, on a slower schedule)", _host, interval=300.0,
                  stale=_host_stale),
    CollectorSpec("pods", True, "pods (REST API only)", _pods),
    CollectorSpec("volumes", True, "volumes (REST API only)", _volumes),
    CollectorSpec("networks", True, "networks (REST API only)", _networks),
)

COLLECTOR_NAMES = tuple(spec.name for spec in COLLECTORS)
