"""What the host itself says about a container or itself: /proc and cgroup v1 readers.

Used by record.py for truth.json. Every reader is a plain file read (microseconds), so
the figures of all containers can be taken just before and just after one request.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

NET_DEV_FIELDS = {  # /proc/net/dev columns after "iface:", by truth.json name
    "rx_bytes": 0, "rx_packets": 1, "rx_errors": 2, "rx_dropped": 3,
    "tx_bytes": 8, "tx_packets": 9, "tx_errors": 10, "tx_dropped": 11,
}


def uptime() -> float:
    """Return the first field of /proc/uptime (seconds)."""
    return float(Path("/proc/uptime").read_text().split()[0])


def wait_for_uptime_seconds(low: int = 35, high: int = 55) -> None:
    """Sleep until the host uptime's seconds (uptime mod 60) are in [low, high].

    Podman 4.2 to 5.3 round the minutes of the uptime text, which shows only when the
    seconds are past 30: recording the info reply then, away from the whole-minute
    edges, makes the recording exercise the correction (podman/corrections.py).
    """
    while not low <= uptime() % 60 <= high:
        time.sleep(0.2)


def net_dev(pid: int) -> dict[str, dict[str, int]]:
    """Return every interface's counters in the net namespace of ``pid`` (lo included)."""
    interfaces = {}
    for line in Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]:
        name, _, rest = line.partition(":")
        fields = [int(x) for x in rest.split()]
        interfaces[name.strip()] = {k: fields[i] for k, i in NET_DEV_FIELDS.items()}
    return interfaces


def cgroup_dirs(pid: int) -> dict[str, Path]:
    """Return controller -> cgroup v1 directory of ``pid`` (from /proc/PID/cgroup)."""
    dirs = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            if controller:
                dirs[controller] = Path("/sys/fs/cgroup", controller, path.lstrip("/"))
    return dirs


def read_int(path: Path) -> int | None:
    """Return the integer in a cgroup file, None if it cannot be read."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def memory_stat(path: Path) -> dict[str, int]:
    """Return the memory.stat entries Podman's v1 figures are made of."""
    keep = ("cache", "rss", "total_cache", "total_rss", "total_inactive_file",
            "total_active_file")
    try:
        pairs = (line.split() for line in path.read_text().splitlines())
        return {k: int(v) for k, v in pairs if k in keep}
    except OSError:
        return {}


def counters(pid: int, dirs: dict[str, Path]) -> dict[str, Any]:
    """Return the figures a stats reply reports for the container of ``pid``: its net
    namespace's interfaces, cpuacct.usage, memory.usage_in_bytes and pids.current."""
    mem = dirs.get("memory")
    return {
        "net": net_dev(pid),
        "cpuacct.usage_ns": read_int(dirs["cpuacct"] / "cpuacct.usage"),
        "memory.usage_in_bytes": read_int(mem / "memory.usage_in_bytes") if mem else None,
        "pids.current": read_int(dirs["pids"] / "pids.current") if "pids" in dirs else None,
    }


def meminfo_total() -> int:
    """Return MemTotal from /proc/meminfo in bytes."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")
