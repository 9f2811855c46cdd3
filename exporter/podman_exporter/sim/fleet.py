"""The simulated fleet: what Podman's varlink methods read and change, plus test controls."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

from podman_exporter.podman.gotext import go_time, varlink_uptime
from podman_exporter.sim.build import MIB
from podman_exporter.sim.core import FleetCore
from podman_exporter.sim.model import ActionFailed, NotFound, SimContainer

_STOPPABLE = ("running", "paused")


class Fleet(FleetCore):
    """The fleet as Podman shows it; every method is thread-safe.

    Lookups take a full id, a name or a unique id prefix and raise NotFound;
    refused actions raise ActionFailed.
    """

    # -- reads ----------------------------------------------------------------------------

    def list_containers(self) -> list[dict[str, Any]]:
        """Return every container's ``ListContainerData`` record."""
        with self._lock:
            wall = self.wall_ns(self._tick())
            return [c.list_record(wall, self.zone) for c in self._by_id.values()]

    def get_container(self, name: str) -> dict[str, Any]:
        """Return one container's ``ListContainerData`` record."""
        with self._lock:
            wall = self.wall_ns(self._tick())
            return self._find(name).list_record(wall, self.zone)

    def container_stats(self, name: str) -> dict[str, Any]:
        """Return one container's ``ContainerStats`` record (zeros unless running)."""
        with self._lock:
            now = self._tick()
            return self._find(name).stats_record(now, self.wall_ns(now), self.cpus)

    def inspect_container(self, name: str) -> str:
        """Return one container's inspection JSON."""
        with self._lock:
            self._tick()
            return self._find(name).inspect(self.zone)

    def container_logs(self, name: str) -> list[str]:
        """Return a few log lines of one container."""
        with self._lock:
            c = self._find(name)
            return [f"{c.name}: started {c.command[0] if c.command else ''}", f"{c.name}: ready"]

    def container_processes(self, name: str) -> list[str]:
        """Return ``ps`` lines of a running container."""
        with self._lock:
            c = self._find(name)
            if not c.running:
                raise ActionFailed(f"container {c.id} is not running")
            return ["PID   USER   TIME   COMMAND", f"1     root   0:01   {' '.join(c.command)}"]

    def list_images(self) -> list[dict[str, Any]]:
        """Return every image's ``ImageInList`` record."""
        with self._lock:
            self._tick()
            used = Counter(c.image_id for c in self._by_id.values())
            return [im.record(self.zone, used[im.id]) for im in self._images.values()]

    def inspect_image(self, name: str) -> str:
        """Return one image's inspection JSON."""
        with self._lock:
            im = self._find_image(name)
            return json.dumps(
                {
                    "Id": im.id,
                    "RepoTags": im.tags,
                    "RepoDigests": im.digests,
                    "Created": go_time(im.created_ns, self.zone),
                    "Size": im.virtual_size,
                    "Labels": im.labels,
                }
            )

    def history_image(self, name: str) -> list[dict[str, Any]]:
        """Return one image's ``ImageHistory`` records."""
        with self._lock:
            im = self._find_image(name)
            created = go_time(im.created_ns, self.zone)
            return [
                {
                    "id": im.id,
                    "created": created,
                    "createdBy": "/bin/sh -c #(nop) CMD",
                    "tags": list(im.tags),
                    "size": im.virtual_size,
                    "comment": "",
                }
            ]

    def info(self) -> dict[str, Any]:
        """Return the ``PodmanInfo`` record (``swap_total`` 0, ``podman_version`` "")."""
        with self._lock:
            now = self._tick()
            used = sum(c.mem_usage(now) for c in self._by_id.values() if c.running)
            return {
                "host": {
                    "mem_free": max(64 * MIB, self.mem_total - used - self.mem_total // 5),
                    "mem_total": self.mem_total,
                    "swap_free": 2048 * MIB,
                    "swap_total": 0,
                    "arch": "amd64",
                    "cpus": self.cpus,
                    "hostname": self.hostname,
                    "kernel": "4.16.7-300.fc28.x86_64",
                    "os": "linux",
                    "uptime": varlink_uptime(self._boot_uptime + now),
                },
                "registries": ["docker.io", "registry.fedoraproject.org", "quay.io"],
                "insecure_registries": [],
                "store": {
                    "containers": len(self._by_id),
                    "images": len(self._images),
                    "graph_driver_name": "overlay",
                    "graph_driver_options": "overlay.override_kernel_check=true",
                    "graph_root": "/var/lib/containers/storage",
                    "graph_status": {
                        "backing_filesystem": "xfs",
                        "native_overlay_diff": "true",
                        "supports_d_type": "true",
                    },
                    "run_root": "/var/run/containers/storage",
                },
                "podman": {
                    "compiler": "gc",
                    "go_version": "go1.10.2",
                    "podman_version": "",
                    "git_commit": "",
                },
            }

    @staticmethod
    def version() -> dict[str, Any]:
        """Return the ``Version`` record."""
        return {
            "version": "0.5.3",
            "go_version": "go1.10.2",
            "git_commit": "6d9f6ab4b2ed6b5e3ecb5a1a1a4b2e0ba2b9cf3a",
            "built": 1526048043,
            "os_arch": "linux/amd64",
        }

    # -- Podman actions -----------------------------------------------------------------

    def stop(self, name: str) -> str:
        """Stop a running container (exit code 0); return its id."""
        with self._lock:
            now, c = self._tick(), self._find(name)
            if c.status in ("paused", "configured", "unknown"):
                raise ActionFailed(f"cannot stop container {c.id} in state {c.status}")
            if c.running:
                self._transition(c, "exited", now, 0)
            return c.id

    def restart(self, name: str) -> str:
        """Restart a container (counters start again); return its id."""
        with self._lock:
            now, c = self._tick(), self._find(name)
            if c.status == "paused":
                raise ActionFailed(f"cannot restart paused container {c.id}")
            self._emit(c, "restart", now)  # podman restart logs it first, then died
            if c.running:
                self._transition(c, "exited", now, 0)
            self._transition(c, "running", now)
            return c.id

    def kill(self, name: str, signal: int) -> str:
        """Send a signal (1-64); 9 and 15 stop the container. Return its id."""
        with self._lock:
            now, c = self._tick(), self._find(name)
            if not 1 <= signal <= 64:
                raise ActionFailed(f"invalid signal {signal}")
            if not c.running:
                raise ActionFailed(f"can only kill running containers, {c.id} is {c.status}")
            self._emit(c, "kill", now)
            if signal in (9, 15):
                self._transition(c, "exited", now, 128 + signal)
            return c.id

    def pause(self, name: str) -> str:
        """Pause a running container; return its id."""
        return self._move(name, "running", "paused")

    def unpause(self, name: str) -> str:
        """Unpause a paused container; return its id."""
        return self._move(name, "paused", "running")

    def _move(self, name: str, source: str, target: str) -> str:
        with self._lock:
            now, c = self._tick(), self._find(name)
            if c.status != source:
                raise ActionFailed(f"container {c.id} is {c.status}, not {source}")
            self._transition(c, target, now)
            return c.id

    def remove(self, name: str, force: bool) -> str:
        """Remove a container; a running or paused one only with force. Return its id."""
        with self._lock:
            self._tick()
            c = self._find(name)
            if c.status in _STOPPABLE and not force:
                raise ActionFailed(f"cannot remove container {c.id}: it is {c.status}")
            self._drop(c)
            return c.id

    def wait(self, name: str, cancel: threading.Event) -> int:
        """Block until the container stops (or ``cancel`` is set); return its exit code."""
        with self._lock:
            c = self._find(name)
            while c.status in _STOPPABLE and c.id in self._by_id and not cancel.is_set():
                self._changed.wait(0.2)
                self._tick()
            return c.exit_code

    def delete_stopped(self) -> list[str]:
        """Remove every container that is neither running nor paused (a paused one cannot
        be removed without force, as in Podman's prune); return their ids."""
        with self._lock:
            self._tick()
            gone = [c for c in self._by_id.values() if c.status not in ("running", "paused")]
            for c in gone:
                self._drop(c)
            return [c.id for c in gone]

    def delete_unused_images(self) -> list[str]:
        """Remove every image no container uses; return their ids."""
        with self._lock:
            self._tick()
            used = {c.image_id for c in self._by_id.values()}
            gone = [i for i in self._images if i not in used]
            for image_id in gone:
                del self._images[image_id]
            return gone

    def remove_image(self, name: str, force: bool) -> str:
        """Remove an image; one in use only with force (its containers go too). Return its id."""
        with self._lock:
            self._tick()
            im = self._find_image(name)
            users = [c for c in self._by_id.values() if c.image_id == im.id]
            if users and not force:
                raise ActionFailed(f"image {im.id} is in use by {len(users)} container(s)")
            for c in users:
                self._drop(c)
            del self._images[im.id]
            return im.id

    def tag_image(self, name: str, tagged: str) -> str:
        """Add a tag to an image; return its id."""
        with self._lock:
            im = self._find_image(name)
            im.tags = [t for t in im.tags if t != "<none>:<none>"] + [tagged]
            return im.id


__all__ = ["ActionFailed", "Fleet", "NotFound", "SimContainer"]
