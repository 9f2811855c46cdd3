"""Containers doing known work, and the ground truth the exporter is compared with.

Used by test_truth.py. The zoo runs on a private Podman (podman_env.private_podman):
each container does a known piece of work, says ``done`` on stdout (read with
``podman logs``, which starts nothing inside the container), then sleeps, so
that its counters no longer move when they are compared.

Ground truth is read where Podman 4.3.1 reads it (libpod/stats_linux.go and
containers/common v0.50.1 pkg/cgroups, cgroup v1), never from Podman's answer:

- CPU: ``cpuacct.usage`` (ns). Kernel-mode CPU: ``cpuacct.usage_sys`` (ns), which
  is what Podman 4.3 reads into ``CPUSystemNano``. Not ``cpuacct.stat`` ``system``:
  that one is in USER_HZ ticks and scaled by the kernel's cputime_adjust() so
  that user + system = runtime, and differs by ~10 % (0.45 s vs 0.508 s seen).
- memory: ``memory.usage_in_bytes`` with nothing subtracted (Podman 4.3 on cgroup
  v1 subtracts neither cache nor inactive_file); the limit is the container's
  ``memory.limit_in_bytes``, capped at the host's RAM (``/proc/meminfo``
  MemTotal), as Podman's ``getMemLimit`` caps it with sysinfo's totalram.
- block I/O: the ``Read`` and ``Write`` lines of
  ``blkio.throttle.io_service_bytes_recursive``, summed over devices.
- pids: ``pids.current``.
- network: ``/proc/<pid>/net/dev`` of the container's process, interface ``eth0``.
"""

from __future__ import annotations

import os
import re
import stat
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from exporter_proc import Exporter, Scrape
from podman_env import PodmanEnv, busybox_rootfs

IMAGE = "localhost/busybox:truth"
BLOB_IMAGE = "localhost/truth-blob:2mb"
BLOB_IMAGE_BYTES = 2_000_000
APPLETS = ("sh", "sleep", "true", "false", "cat", "echo", "ls", "dd", "head", "mkdir",
           "httpd", "wget", "seq")
SERVED_BYTES = 3_000_000
"""Bytes the web server container serves to the client container, once."""
WRITTEN_BYTES = 8 * 1024 * 1024
"""Bytes written with O_DIRECT by the block I/O container (it reads back half)."""
READ_BYTES = WRITTEN_BYTES // 2
HELD_BYTES = 20 * 1024 * 1024
"""Bytes the memory holder keeps in a tmpfs file (/dev/shm, charged to its memory cgroup)."""
MEMORY_LIMIT = 64 * 1024 * 1024
RW_FILE_BYTES = 1_000_000
"""Bytes of the file the ``sizer`` container writes into its writable layer."""
SLEEPERS = 5
FOREVER = "sleep 100000"


def truth_rootfs(dest: Path, name: str = "rootfs.tar", blob: int = 0) -> Path:
    """Return a rootfs tar: busybox-static with this zoo's applets, and a ``blob`` of
    ``blob`` random bytes at /blob when asked."""
    return busybox_rootfs(dest, name, APPLETS, blob)


# --- ground truth readers -------------------------------------------------------


def cgroup_mounts() -> dict[str, Path]:
    """Return the mount point of each cgroup v1 controller (``cpuacct`` -> /sys/fs/cgroup/...)."""
    mounts: dict[str, Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fstype, _source, options = after.split(" ", 2)
        if fstype != "cgroup":
            continue
        for option in options.split(","):
            mounts.setdefault(option, Path(before.split(" ")[4]))
    return mounts


def cgroup_dir(pid: int, controller: str) -> Path:
    """Return the cgroup v1 directory of ``pid`` for ``controller``, from /proc/<pid>/cgroup."""
    mounts = cgroup_mounts()
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _num, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return mounts[controller] / path.lstrip("/")
    raise AssertionError(f"pid {pid} has no {controller} cgroup")


def read_int(path: Path) -> int:
    """Return the integer in a one-value cgroup file."""
    return int(path.read_text().split()[0])


def read_keyed(path: Path) -> dict[str, int]:
    """Return the ``key value`` lines of a cgroup file (memory.stat, cpuacct.stat)."""
    out: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, val = line.partition(" ")
        out[key] = int(val)
    return out


def blkio_bytes(path: Path) -> tuple[int, int]:
    """Return (read, write) bytes from a blkio io_service_bytes file, summed over devices,
    as Podman 4.3 sums them (the ``Total`` lines are not counted)."""
    read = write = 0
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        op = parts[1].lower()
        if op == "read":
            read += int(parts[2])
        elif op == "write":
            write += int(parts[2])
    return read, write


def net_dev(pid: int, iface: str = "eth0") -> tuple[int, int] | tuple[None, None]:
    """Return (rx_bytes, tx_bytes) of ``iface`` in the network namespace of ``pid``
    (a pod's containers share the infra container's), (None, None) without it."""
    for line in Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]:
        name, _, fields = line.partition(":")
        if name.strip() == iface:
            cols = fields.split()
            return int(cols[0]), int(cols[8])
    return None, None


def mem_total_bytes() -> int:
    """Return MemTotal of /proc/meminfo in bytes."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def uptime_seconds() -> float:
    """Return /proc/uptime's first field."""
    return float(Path("/proc/uptime").read_text().split()[0])


@dataclass(frozen=True)
class Usage:
    """Resource usage of one running or paused container, read from the kernel."""

    cpu_ns: int
    cpu_sys_ns: int
    mem_usage: int
    mem_limit: int
    mem_stat: dict[str, int]
    blk_read: int
    blk_write: int
    pids: int
    net_rx: int | None
    net_tx: int | None


def read_usage(pid: int) -> Usage:
    """Return the kernel's figures for the container whose process is ``pid``."""
    cpu = cgroup_dir(pid, "cpuacct")
    mem = cgroup_dir(pid, "memory")
    blk_read, blk_write = blkio_bytes(
        cgroup_dir(pid, "blkio") / "blkio.throttle.io_service_bytes_recursive")
    rx, tx = net_dev(pid)
    return Usage(
        cpu_ns=read_int(cpu / "cpuacct.usage"),
        cpu_sys_ns=read_int(cpu / "cpuacct.usage_sys"),
        mem_usage=read_int(mem / "memory.usage_in_bytes"),
        mem_limit=min(read_int(mem / "memory.limit_in_bytes"), mem_total_bytes()),
        mem_stat=read_keyed(mem / "memory.stat"),
        blk_read=blk_read, blk_write=blk_write,
        pids=read_int(cgroup_dir(pid, "pids") / "pids.current"),
        net_rx=rx, net_tx=tx,
    )


def unix_time(text: str) -> float:
    """Return Unix seconds for Podman's RFC 3339 text with up to nanoseconds."""
    m = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text.strip())
    if m is None:
        raise AssertionError(f"not an RFC 3339 time: {text!r}")
    base = datetime.fromisoformat(m[1] + ("+00:00" if m[3] == "Z" else m[3]))
    return base.timestamp() + (float(f"0.{m[2]}") if m[2] else 0.0)


def block_device_of(path: Path) -> str:
    """Return the /dev node of the block device holding ``path``."""
    dev = os.stat(path).st_dev
    for entry in Path("/dev").iterdir():
        try:
            st = entry.lstat()
        except OSError:
            continue
        if stat.S_ISBLK(st.st_mode) and st.st_rdev == dev:
            return str(entry)
    raise AssertionError(f"no block device node for {os.major(dev)}:{os.minor(dev)}")


# --- the zoo ---------------------------------------------------------------------


@dataclass
class Zoo:
    """The containers of the truth test, by role, and what was done to them."""

    env: PodmanEnv
    pod: str = "truth-pod"
    names: dict[str, str] = field(default_factory=dict)
    work_done_at: float = 0.0
    """Wall-clock time after every container finished its work."""

    def name(self, role: str) -> str:
        """Return the container name of ``role``."""
        return self.names[role]


def build(env: PodmanEnv) -> Zoo:
    """Create the zoo, let every container do its work, and return once all are done."""
    zoo = Zoo(env)
    env.podman("import", str(truth_rootfs(env.base)), IMAGE)
    env.podman("import", str(truth_rootfs(env.base, "blob.tar", BLOB_IMAGE_BYTES)), BLOB_IMAGE)
    net = ("--network", env.network)
    device = block_device_of(env.base / "root")
    roles = ("burner", "holder", "blockio", "server", "client", "pids", "exit0", "exit3",
             "killed", "paused", "created", "initialized", "healthy", "unhealthy", "starting",
             "pod_a", "pod_b", "sizer")
    zoo.names = n = {role: f"truth-{role.replace('_', '-')}" for role in roles}
    env.podman("pod", "create", *net, "--name", zoo.pod)

    def run(role: str, script: str, *opts: str) -> list[str]:
        return ["run", "-d", *net, "--name", n[role], *opts, IMAGE, "sh", "-c", script]

    done = f"echo done; {FOREVER}"
    env.run_parallel([
        # A fixed amount of work (about 1.2 s of user and 0.6 s of mostly system time
        # here), so that its CPU time does not depend on how busy the host is.
        run("burner", f"{spin(1_000_000)}; dd if=/dev/zero of=/dev/null bs=1 count=1000000; "
                      f"{done}"),
        run("holder", f"dd if=/dev/zero of=/dev/shm/held bs=1048576 count={HELD_BYTES >> 20}; "
                      f"{done}", "--memory", "64m"),
        run("blockio", f"dd if=/dev/zero of=/data bs=1048576 count={WRITTEN_BYTES >> 20} "
                       f"oflag=direct && dd if=/data of=/dev/null bs=1048576 "
                       f"count={READ_BYTES >> 20} iflag=direct && {done}",
            "--device-write-bps", f"{device}:10gb", "--device-read-bps", f"{device}:10gb"),
        run("server", f"dd if=/dev/zero of=/dev/shm/blob bs=1000 count={SERVED_BYTES // 1000}"
                      " && echo done && exec httpd -f -p 8080 -h /dev/shm"),
        run("pids", f"for i in $(seq {SLEEPERS}); do {FOREVER} & done; echo done; wait"),
        run("exit0", "exit 0"),
        run("exit3", "exit 3"),
        run("killed", FOREVER),
        run("paused", f"dd if=/dev/zero of=/dev/shm/p bs=1048576 count=5; {spin(200_000)}; "
                      f"{done}"),
        ["create", *net, "--name", n["created"], IMAGE, "sh", "-c", FOREVER],
        ["create", *net, "--name", n["initialized"], IMAGE, "sh", "-c", FOREVER],
        run("healthy", FOREVER, "--health-cmd", "true", "--health-interval", "1h"),
        run("unhealthy", FOREVER, "--health-cmd", "false", "--health-retries", "1",
            "--health-interval", "1h"),
        run("starting", FOREVER, "--health-cmd", "true", "--health-interval", "1h"),
        ["run", "-d", "--pod", zoo.pod, "--name", n["pod_a"], IMAGE, "sh", "-c", FOREVER],
        ["run", "-d", "--pod", zoo.pod, "--name", n["pod_b"], IMAGE, "sh", "-c", FOREVER],
        run("sizer", f"dd if=/dev/urandom of=/known bs=1000 count={RW_FILE_BYTES // 1000}"),
    ])
    wait_logged(env, [n["server"]])
    server_ip = env.podman("inspect", "--format",
                           "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                           n["server"]).strip()
    env.podman(*run("client", f"wget -q -O /dev/null http://{server_ip}:8080/blob && {done}"))
    env.run_parallel([["init", n["initialized"]], ["kill", "--signal", "KILL", n["killed"]],
                      ["healthcheck", "run", n["healthy"]]])
    env.podman("healthcheck", "run", n["unhealthy"], check=False)
    for role in ("exit0", "exit3", "killed", "sizer"):
        env.podman("wait", n[role])
    wait_logged(env, [n[r] for r in ("burner", "holder", "blockio", "client", "pids",
                                        "paused")])
    env.podman("pause", n["paused"])
    zoo.work_done_at = time.time()
    return zoo


def spin(loops: int) -> str:
    """Return a shell loop that counts to ``loops`` (about 1.2 µs of CPU per loop here)."""
    return f"i=0; while [ $i -lt {loops} ]; do i=$((i+1)); done"


def wait_logged(env: PodmanEnv, names: list[str], within: float = 60) -> None:
    """Return once every named container has printed ``done``; raise after ``within`` s."""
    deadline = time.monotonic() + within
    pending = list(names)
    while pending:
        pending = [n for n in pending if "done" not in env.podman("logs", n).split()]
        if pending and time.monotonic() > deadline:
            raise AssertionError(f"no 'done' from {pending} within {within}s")
        if pending:
            time.sleep(0.1)


# --- host uptime, sampled at every collection --------------------------------------


@dataclass(frozen=True)
class UptimeSample:
    """One collection's exported uptime, /proc/uptime at the end of that collection, and
    how long the collection's collectors took (Podman read its uptime within that time)."""

    collected_at: float
    exported: float | None
    truth: float
    spent: float


class UptimeRecorder(threading.Thread):
    """Scrapes an exporter in the background and keeps one UptimeSample per collection,
    so that the uptime is checked with both halves of a minute (Podman 4.3 prints the
    minutes rounded, which is wrong when the seconds part is 30 or more)."""

    def __init__(self, exp: Exporter) -> None:
        super().__init__(daemon=True)
        self.exp = exp
        self.samples: list[UptimeSample] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        """Record until stop()."""
        last = 0.0
        while not self.stopping.wait(0.25):
            try:
                scrape = self.exp.scrape()
            except OSError:
                continue
            now, up = time.time(), uptime_seconds()
            taken = sample(scrape, "podman_exporter_last_collection_timestamp_seconds")
            host_ok = sample(scrape, "podman_scrape_collector_success", collector="host")
            if taken is None or taken == last or host_ok != 1:
                continue  # a failed host collection (e.g. a timeout) says nothing
            last = taken
            spent = sum(s.value for s in scrape.get("podman_scrape_collector_duration_seconds",
                                                   []))
            self.samples.append(UptimeSample(
                taken, sample(scrape, "podman_host_uptime_seconds"), up - (now - taken), spent))

    def stop(self) -> None:
        """Stop recording and return once the thread ended."""
        self.stopping.set()
        self.join(timeout=15)


def sample(scrape: Scrape, metric: str, **labels: str) -> float | None:
    """Return the value of the one sample of ``metric`` whose labels include ``labels``,
    None when there is none; raise when there are several."""
    found = [s for s in scrape.get(metric, []) if labels.items() <= s.labels.items()]
    if len(found) > 1:
        raise AssertionError(f"{metric}{labels}: {len(found)} samples")
    return float(found[0].value) if found else None
