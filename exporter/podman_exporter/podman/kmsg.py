"""The kernel log's OOM-kill reports, read from ``/dev/kmsg`` in a daemon thread.

The only source that sees every OOM kill of a container in a restart loop: its memory
cgroup is replaced at each start, often before the exporter reads it, and Podman 4.3
sends no ``oom`` event. Reading ``/dev/kmsg`` needs root (or CAP_SYSLOG) on the host
Podman runs on; without it the reader does not start and the cgroup readings remain.
Only records written after the reader started are read.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import threading
from collections.abc import Callable

from podman_exporter.podman.oom import container_of_cgroup, kernel_oom_kill

log = logging.getLogger(__name__)

KMSG = "/dev/kmsg"
MAX_RECORD = 8192
"""Longest kernel log record read at once (the kernel's own limit is under 8 KiB)."""


def kill_in_record(record: bytes) -> str | None:
    """Return the id of the Podman container whose process a kernel log record reports
    OOM-killed, else None (``6,1234,5678,-;oom-kill:...,task_memcg=/.../libpod-<id>``)."""
    _, _, message = record.decode("utf-8", errors="replace").partition(";")
    memcg = kernel_oom_kill(message)
    return container_of_cgroup(memcg) if memcg else None


class KernelOomLog:
    """Calls ``on_kill(container_id)`` for every OOM kill of a Podman container's
    process that the kernel logs from now on."""

    def __init__(self, on_kill: Callable[[str], None], path: str = KMSG) -> None:
        self._on_kill = on_kill
        self._path = path
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        """Written by ``stop()``: the reader sleeps in ``select`` without a timeout."""
        self._thread: threading.Thread | None = None
        self.kills = 0
        """Kills of Podman containers' processes read so far."""

    def start(self) -> bool:
        """Open the kernel log at its end and start reading; return False (and log why at
        info level) when it cannot be read."""
        try:
            fd = os.open(self._path, os.O_RDONLY | os.O_NONBLOCK)
            os.lseek(fd, 0, os.SEEK_END)
        except OSError as exc:
            log.info("kernel log not readable (%s): OOM kills come from memory cgroups only",
                     exc.strerror or exc)
            os.close(self._wake_r)
            os.close(self._wake_w)
            return False
        self._thread = threading.Thread(target=self._read, args=(fd,), name="kernel-oom",
                                        daemon=True)
        self._thread.start()
        return True

    def _read(self, fd: int) -> None:
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([fd, self._wake_r], [], [])
                if fd not in ready:
                    continue
                try:
                    record = os.read(fd, MAX_RECORD)
                except OSError as exc:
                    if exc.errno == errno.EPIPE:  # records overwritten before read: go on
                        continue
                    if exc.errno == errno.EAGAIN:
                        continue
                    log.warning("kernel log read failed, OOM kills from cgroups only: %s", exc)
                    return
                if not record:  # not a kernel log (a file in tests): nothing more comes
                    self._stop.wait(0.2)
                    continue
                container = kill_in_record(record)
                if container is not None:
                    self.kills += 1
                    self._on_kill(container)
        finally:
            os.close(fd)

    def stop(self) -> None:
        """Stop reading (at once: the reader is woken)."""
        self._stop.set()
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=2)
        os.close(self._wake_r)
        os.close(self._wake_w)
