"""OOM kills of a container, read from its memory cgroup (the exporter on Podman's host).

Podman 4.3 sends no ``oom`` event and leaves inspect's ``State.OOMKilled`` false for a
container the kernel OOM-killed; the container's memory cgroup counts the kills:

- cgroup v1: ``<root>/memory/<path>/memory.oom_control``, line ``oom_kill N``
  (kernel 4.13 and later);
- cgroup v2: ``<root>/<path>/memory.events``, line ``oom_kill N`` (the cgroup and its
  descendants).

``path`` is relative to the cgroup mount, as inspect's ``State.CgroupPath`` gives it
(``/libpod_parent/libpod-<id>`` with the cgroupfs manager, ``/machine.slice/libpod-<id>.scope``
with systemd's) and as ``/proc/<pid>/cgroup`` shows it (``memory_cgroup``).

The count lives as long as the cgroup: runc removes it when the container stops (on
Podman 4.3 here 0.1-0.2 s after the kill) and a restarted container starts a new one at
0. Read it while the container runs and keep the total
(``collect.events.EventCounters.observe_oom``). Measured here: a container OOM-killed
once is found on its ``died`` event (6 of 6), but one OOM-killed in a restart-policy loop
is found 3 times in 16 (the ``died`` event arrives after the restart made a new cgroup).

The kernel log counts every kill: ``oom-kill:...,oom_memcg=<path>,task_memcg=<path>,...``
on ``/dev/kmsg`` (root, or ``kernel.dmesg_restrict=0``), 16 of 16 in that loop;
``kernel_oom_kill`` and ``container_of_cgroup`` read such a line.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC = Path("/proc")
_COUNT = re.compile(r"[0-9]{1,20}")
_OOM_KILL = re.compile(r"\boom-kill:(\S*)")
_CONTAINER = re.compile(r"(?:^|/)libpod-([0-9a-f]{64})(?:\.scope)?(?:/|$)")


def oom_kills(cgroup_path: str, root: Path = CGROUP_ROOT) -> int | None:
    """Return the OOM kills counted in the memory cgroup at ``cgroup_path`` (v2 or v1
    layout under ``root``), or None when unknown: no such cgroup (a stopped container's),
    no counter in it, unreadable, or a path that leaves ``root``."""
    parts = PurePosixPath(cgroup_path).parts
    if not cgroup_path.startswith("/") or ".." in parts:
        return None
    relative = PurePosixPath(*parts[1:]) if len(parts) > 1 else PurePosixPath()
    for file in (root / relative / "memory.events",
                 root / "memory" / relative / "memory.oom_control"):
        count = _field(file, "oom_kill")
        if count is not None:
            return count
    return None


def memory_cgroup(pid: int, proc: Path = PROC) -> str | None:
    """Return the memory cgroup path of process ``pid`` from ``/proc/<pid>/cgroup``: the
    v1 ``memory`` controller's line, else the v2 (``0::``) line; None when unknown."""
    if pid <= 0:
        return None
    try:
        text = (proc / str(pid) / "cgroup").read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None
    unified = None
    for line in text.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if "memory" in controllers.split(","):
            return path or None
        if hierarchy == "0" and not controllers:
            unified = path or None
    return unified


def kernel_oom_kill(line: str) -> str | None:
    """Return the memory cgroup of the killed process (``task_memcg``, else ``oom_memcg``)
    of a kernel log line reporting an OOM kill; None for any other line."""
    match = _OOM_KILL.search(line)
    if match is None:
        return None
    fields = dict(part.partition("=")[::2] for part in match[1].split(","))
    return fields.get("task_memcg") or fields.get("oom_memcg") or None


def container_of_cgroup(path: str) -> str | None:
    """Return the id of the Podman container a cgroup path belongs to (``libpod-<id>``
    or ``libpod-<id>.scope``, sub-cgroups included), else None."""
    match = _CONTAINER.search(path)
    return match[1] if match else None


def _field(file: Path, key: str) -> int | None:
    """Return the value of the ``key N`` line of a cgroup file; None when unknown."""
    try:
        text = file.read_text(encoding="ascii")
    except (OSError, ValueError):
        return None
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            value = value.strip()
            return int(value) if _COUNT.fullmatch(value) else None
    return None
