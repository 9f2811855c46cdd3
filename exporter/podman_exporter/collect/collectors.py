"""The collectors, listed once: name, default, what they fetch.

Command-line flags (``--collector.<name>`` / ``--no-collector.<name>``) and the
per-collector success, duration, error and bad-record metrics all come from
``COLLECTORS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from podman_exporter.podman.backend import PartialFailure, PodmanBackend
from podman_exporter.snapshot.model import Batch, Container, ContainerState, ContainerStats


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


@dataclass(frozen=True, slots=True)
class CollectorSpec:
    """One collector: its name (also the Snapshot field it fills), whether it is on by
    default, what it needs fetched first, and its fetch function."""

    name: str
    default: bool
    help: str
    factory: Callable[[], Fetch]
    requires: tuple[str, ...] = ()


def _batch(batch: Batch[Any]) -> Outcome:
    return Outcome(batch.items, batch.bad)


def _containers() -> Fetch:
    return lambda backend, _: _batch(backend.list_containers())


def _stats() -> Fetch:
    def fetch(backend: PodmanBackend, done: Mapping[str, object]) -> Outcome:
        containers = done.get("containers")
        if not isinstance(containers, tuple):
            return Outcome(MappingProxyType({}))
        running = [
            c.id
            for c in containers
            if isinstance(c, Container) and c.state == ContainerState.RUNNING
        ]
        error = None
        try:
            batch = backend.container_stats(running) if running else Batch()
        except PartialFailure as exc:
            batch, error = exc.batch, str(exc)
        by_id = MappingProxyType({s.id: s for s in batch.items if isinstance(s, ContainerStats)})
        return Outcome(by_id, batch.bad, error)

    return fetch


def _images() -> Fetch:
    return lambda backend, _: _batch(backend.list_images())


def _host() -> Fetch:
    def fetch(backend: PodmanBackend, _: Mapping[str, object]) -> Outcome:
        batch = backend.host_info()
        return Outcome(batch.items[0], batch.bad)

    return fetch


def _pods() -> Fetch:
    return lambda backend, _: _batch(backend.list_pods())


def _volumes() -> Fetch:
    return lambda backend, _: _batch(backend.list_volumes())


COLLECTORS: tuple[CollectorSpec, ...] = (
    CollectorSpec("containers", True, "containers: info, state, sizes", _containers),
    CollectorSpec("stats", True, "CPU, memory, network, block I/O and pids of running "
                  "containers", _stats, requires=("containers",)),
    CollectorSpec("images", True, "images: info, size, containers using them", _images),
    CollectorSpec("host", True, "host memory, CPUs, uptime, store and version", _host),
    CollectorSpec("pods", True, "pods (REST API only)", _pods),
    CollectorSpec("volumes", True, "volumes (REST API only)", _volumes),
)

COLLECTOR_NAMES = tuple(spec.name for spec in COLLECTORS)
