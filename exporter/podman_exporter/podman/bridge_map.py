"""Model records -> ``io.projectatomic.podman`` reply values, shaped as the 2018 service sent them.

Values the REST API has but the old interface had no field for (exit code,
health, pods) are not sent; fields the old service filled that REST has no
source for (``command``, ``mounts``, ``namespaces``, ``registries``, the CPU
percentage) are sent empty or zero, as the old service did for unknowns.
Times are Go ``time.Time.String()`` text in UTC; ``runningfor`` is a Go duration.

Unknown numbers are never sent as 0: a field whose value is unknown (a size not
computed yet, a counter Podman did not report) is left out of the reply, which the
interface's clients read as absent. Where the 2018 service had a reporting bug
that clients correct (network input and output swapped, the uptime's minutes
rounded), the bridge writes what that service would have written, so that one
client-side correction (podman/corrections.py) serves both.
"""

from __future__ import annotations

import time
from typing import Any

from podman_exporter.podman.gotext import NS, Zone, go_duration, go_time, varlink_uptime
from podman_exporter.snapshot.model import (
    Container,
    ContainerSize,
    ContainerState,
    ContainerStats,
    HostInfo,
    Image,
)

UTC_ZONE = Zone("UTC", 0)

_NAMESPACES = ("user", "uts", "pidns", "pid", "cgroup", "net", "mnt", "ipc")


def go_text(unix: float | None) -> str:
    """Return Go ``Time.String()`` text in UTC for unix seconds; Go's zero time for None."""
    if unix is None:
        return "0001-01-01 00:00:00 +0000 UTC"
    return go_time(round(unix * NS), UTC_ZONE)


def _known(**fields: object) -> dict[str, Any]:
    """Return the fields whose value is known (not None)."""
    return {k: v for k, v in fields.items() if v is not None}


def container(c: Container, size: ContainerSize | None = None,
              now: float | None = None) -> dict[str, Any]:
    """Return a ``ListContainerData`` value for one container; sizes only when known."""
    now = time.time() if now is None else now
    running_for = max(0.0, now - c.created) if c.created is not None else 0.0
    return {
        "id": c.id,
        "image": c.image,
        "imageid": c.image_id,
        "command": [],
        "createdat": go_text(c.created),
        "runningfor": go_duration(round(running_for * NS)),
        "status": c.state.varlink_word(),
        "ports": [
            {"host_port": p.host_port, "host_ip": p.host_ip, "protocol": p.protocol or "tcp",
             "container_port": p.container_port}
            for p in c.ports
        ],
        **_known(rootfssize=size and size.rootfs_bytes, rwsize=size and size.rw_bytes),
        "names": c.name,
        "labels": dict(c.labels),
        "mounts": [],
        "containerrunning": c.state is ContainerState.RUNNING,
        "namespaces": dict.fromkeys(_NAMESPACES, ""),
    }


def _nanos(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * NS)


def stats(s: ContainerStats, name: str) -> dict[str, Any]:
    """Return a ``ContainerStats`` value (cumulative counters; ``cpu`` percentage left 0).

    ``net_input`` carries the bytes sent and ``net_output`` those received, as the
    2018 service filled them (see the module docstring).
    """
    usage, limit = s.mem_usage_bytes, s.mem_limit_bytes
    return {
        "id": s.id,
        "name": name,
        "cpu": 0.0,
        **_known(
            cpu_nano=_nanos(s.cpu_seconds),
            system_nano=_nanos(s.cpu_system_seconds),
            mem_usage=usage,
            mem_limit=limit,
            mem_perc=usage / limit * 100 if usage is not None and limit else None,
            net_input=s.net_output_bytes,
            net_output=s.net_input_bytes,
            block_output=s.block_output_bytes,
            block_input=s.block_input_bytes,
            pids=s.pids,
        ),
    }


def image(i: Image) -> dict[str, Any]:
    """Return an ``ImageInList`` value; ``size`` and ``virtualSize`` both carry the size."""
    size = i.size_bytes or 0
    return {
        "id": i.id,
        "parentId": i.parent_id,
        "repoTags": list(i.repo_tags),
        "repoDigests": list(i.repo_digests),
        "created": go_text(i.created),
        "size": size,
        "virtualSize": size,
        "containers": i.containers or 0,
        "labels": dict(i.labels),
    }


def version(h: HostInfo) -> dict[str, Any]:
    """Return a ``Version`` value."""
    v = h.version
    return {"version": v.version, "go_version": v.go_version, "git_commit": v.git_commit,
            "built": 0, "os_arch": v.os_arch}


def info(h: HostInfo, uptime: float | None) -> dict[str, Any]:
    """Return a ``PodmanInfo`` value; ``uptime`` in the 2018 service's exact text, left
    out when unknown."""
    return {
        "host": {
            "mem_free": h.mem_free_bytes or 0,
            "mem_total": h.mem_total_bytes or 0,
            "swap_free": h.swap_free_bytes or 0,
            "swap_total": h.swap_total_bytes or 0,
            "arch": h.arch,
            "cpus": h.cpus or 0,
            "hostname": h.hostname,
            "kernel": h.kernel,
            "os": h.os,
            **_known(uptime=None if uptime is None else varlink_uptime(uptime)),
        },
        "registries": [],
        "insecure_registries": [],
        "store": {
            "containers": h.store_containers or 0,
            "images": h.store_images or 0,
            "graph_driver_name": h.graph_driver_name,
            "graph_driver_options": "",
            "graph_root": h.graph_root,
            "graph_status": {"backing_filesystem": "", "native_overlay_diff": "",
                             "supports_d_type": ""},
            "run_root": h.run_root,
        },
        "podman": {"compiler": "gc", "go_version": h.version.go_version,
                   "podman_version": h.version.version, "git_commit": h.version.git_commit},
    }
