"""Simulated containers and images, and the varlink records they answer with."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from podman_exporter.podman.gotext import Zone, go_duration, go_time

STATES = ("unknown", "configured", "created", "running", "exited", "paused")
CPU, SYS, NET_IN, NET_OUT, BLK_IN, BLK_OUT = range(6)
_NS_KINDS = ("user", "uts", "pidns", "pid", "cgroup", "net", "mnt", "ipc")


class NotFound(Exception):
    """No container (or image) by that name, id or id prefix."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"no {kind} {name!r}")
        self.kind = kind
        self.name = name


class ActionFailed(Exception):
    """Podman refused the action (the service answers ErrorOccurred)."""


@dataclass(slots=True)
class SimImage:
    """One image in local storage."""

    id: str
    tags: list[str]
    digests: list[str]
    created_ns: int
    virtual_size: int
    labels: dict[str, str] = field(default_factory=dict)

    def record(self, zone: Zone, containers: int) -> dict[str, Any]:
        """Return the ``ImageInList`` record (``size`` 0 as the service left it)."""
        return {
            "id": self.id,
            "parentId": "",
            "repoTags": list(self.tags),
            "repoDigests": list(self.digests),
            "created": go_time(self.created_ns, zone),
            "size": 0,
            "virtualSize": self.virtual_size,
            "containers": containers,
            "labels": dict(self.labels),
        }


@dataclass(slots=True)
class SimContainer:
    """One container; counters grow at ``rates`` (per second) while it runs."""

    id: str
    name: str
    image: str
    image_id: str
    command: list[str]
    created_ns: int
    created_mono_ns: int | None
    status: str
    exit_code: int
    ports: list[dict[str, str]]
    mounts: list[dict[str, Any]]
    labels: dict[str, str]
    rootfs_size: int
    rw_size: int
    rates: list[float]
    mem_base: int
    mem_limit: int
    mem_amp: float
    phase: float
    pids: int
    pid: int = 0
    counters: list[float] = field(default_factory=lambda: [0.0] * 6)
    since: float = 0.0
    started_ns: int = 0
    finished_ns: int = 0
    restarts: int = 0

    @property
    def running(self) -> bool:
        """Return True when the container runs."""
        return self.status == "running"

    def fold(self, now: float) -> None:
        """Add the usage since the last fold to the counters."""
        if self.running:
            dt = max(0.0, now - self.since)
            for i, rate in enumerate(self.rates):
                self.counters[i] += rate * dt
        self.since = now

    def counters_at(self, now: float) -> list[int]:
        """Return the cumulative counters at fleet time ``now``."""
        dt = max(0.0, now - self.since) if self.running else 0.0
        return [int(c + r * dt) for c, r in zip(self.counters, self.rates, strict=True)]

    def mem_usage(self, now: float) -> int:
        """Return memory usage at ``now``: a wave around the base, below the limit."""
        wave = 1.0 + self.mem_amp * math.sin(now / 37.0 + self.phase)
        return max(4096, min(int(self.mem_base * wave), int(self.mem_limit * 0.995)))

    def list_record(self, wall_ns: int, zone: Zone) -> dict[str, Any]:
        """Return the ``ListContainerData`` record at wall time ``wall_ns``."""
        running = self.running
        inode = int(self.id[:6], 16)
        namespaces = {
            kind: (str(self.pid) if kind == "pid" else str(4026531835 + inode % 997 + i))
            if running
            else ""
            for i, kind in enumerate(_NS_KINDS)
        }
        return {
            "id": self.id,
            "image": self.image,
            "imageid": self.image_id,
            "command": list(self.command),
            "createdat": go_time(self.created_ns, zone, self.created_mono_ns),
            "runningfor": go_duration(max(0, wall_ns - self.created_ns)),
            "status": self.status,
            "ports": [dict(p) for p in self.ports],
            "rootfssize": self.rootfs_size,
            "rwsize": self.rw_size,
            "names": self.name,
            "labels": dict(self.labels),
            "mounts": [dict(m) for m in self.mounts],
            "containerrunning": running,
            "namespaces": namespaces,
        }

    def stats_record(self, now: float, wall_ns: int, cpus: int) -> dict[str, Any]:
        """Return the ``ContainerStats`` record; all zeros unless running."""
        if not self.running:
            counters, usage, limit, pids = [0] * 6, 0, 0, 0
        else:
            counters, usage, limit = self.counters_at(now), self.mem_usage(now), self.mem_limit
            pids = self.pids
        # As libpod did: CPU delta against an empty previous sample (meaningless).
        cpu = counters[CPU] / wall_ns * cpus * 100.0 if wall_ns > 0 else 0.0
        return {
            "id": self.id,
            "name": self.name,
            "cpu": cpu,
            "cpu_nano": counters[CPU],
            "system_nano": counters[SYS],
            "mem_usage": usage,
            "mem_limit": limit,
            "mem_perc": usage / limit * 100.0 if limit else 0.0,
            # The 2018 service filled net_input from the transmit counter (and the
            # other way round); clients correct it (podman/corrections.py).
            "net_input": counters[NET_OUT],
            "net_output": counters[NET_IN],
            "block_output": counters[BLK_OUT],
            "block_input": counters[BLK_IN],
            "pids": pids,
        }

    def inspect(self, zone: Zone) -> str:
        """Return the ``InspectContainer`` JSON document."""

        def when(ns: int) -> str:
            return go_time(ns, zone) if ns else "0001-01-01 00:00:00 +0000 UTC"

        return json.dumps(
            {
                "Id": self.id,
                "Created": go_time(self.created_ns, zone),
                "Path": self.command[0] if self.command else "",
                "Args": self.command[1:],
                "State": {
                    "Status": self.status,
                    "Running": self.running,
                    "Paused": self.status == "paused",
                    "Pid": self.pid,
                    "ExitCode": self.exit_code,
                    "StartedAt": when(self.started_ns),
                    "FinishedAt": when(self.finished_ns),
                },
                "Image": self.image_id,
                "ImageName": self.image,
                "Name": self.name,
                "RestartCount": self.restarts,
                "Mounts": self.mounts,
                "Config": {"Labels": self.labels, "Cmd": self.command},
                "HostConfig": {"Memory": self.mem_limit},
            }
        )
