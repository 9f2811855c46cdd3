"""The varlink backend: ``io.projectatomic.podman`` calls -> model records.

Calls go through a VarlinkPool (varlink_pool.py); stats of running containers are
fetched concurrently over it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from podman_exporter.podman import varlink_parse
from podman_exporter.podman.backend import (
    NotFound,
    PartialFailure,
    PodmanError,
    PodmanUnavailable,
    Unsupported,
)
from podman_exporter.podman.corrections import measured
from podman_exporter.podman.fields import Record, parse_records
from podman_exporter.podman.varlink_pool import VarlinkPool
from podman_exporter.snapshot.model import (
    Batch,
    Container,
    ContainerSize,
    ContainerStats,
    HostInfo,
    Image,
    Network,
    Pod,
    Volume,
)

_VANISHED = object()
_SKIPPED = object()


class VarlinkBackend:
    """PodmanBackend over ``io.projectatomic.podman``."""

    api = "varlink"

    def __init__(
        self,
        address: str | None,
        *,
        bridge: str | None = None,
        timeout: float = 5.0,
        connections: int = 8,
        stats_budget: float | None = None,
    ) -> None:
        self._pool = VarlinkPool(address, bridge=bridge, timeout=timeout,
                                 connections=connections)
        self.call = self._pool.call
        self.target = self._pool.target
        self._stats_budget = stats_budget if stats_budget is not None else 2 * timeout
        self._info_method = "GetInfo"
        self._workers = ThreadPoolExecutor(connections, thread_name_prefix="varlink")

    # -- collection --------------------------------------------------------

    def ping(self) -> None:
        """Return when the service answers Ping."""
        self.call("Ping")

    def list_containers(self) -> Batch[Container]:
        """Return every container (ListContainers)."""
        reply = self.call("ListContainers").get("containers")
        return parse_records(reply, varlink_parse.container, "container")

    def container_sizes(self) -> Batch[ContainerSize]:
        """Return every container's disk use, from ListContainers (the service computed
        it for every listing)."""
        reply = self.call("ListContainers").get("containers")
        return parse_records(reply, varlink_parse.size, "container size")

    def container_stats(self, ids: Sequence[str]) -> Batch[ContainerStats]:
        """Return stats of the given containers, fetched concurrently over the pool.

        All-zero replies (the service did not measure the container) are left out.

        Containers that vanished meanwhile are left out; one the service answers with
        an error is missing. Once one call fails to reach the service, or the stats
        budget is spent, the remaining calls are skipped: a hung service costs one
        timeout, not one per container. Raises PartialFailure (with what was fetched)
        or PodmanUnavailable (nothing was).
        """
        deadline = time.monotonic() + self._stats_budget
        failure: list[str] = []
        unreachable: list[str] = []

        def one(cid: str) -> object:
            if unreachable or time.monotonic() > deadline:
                return _SKIPPED
            try:
                return self.call("GetContainerStats", name=cid).get("container")
            except NotFound:
                return _VANISHED
            except PodmanUnavailable as exc:
                unreachable.append(str(exc))
                return _SKIPPED
            except PodmanError as exc:
                failure.append(str(exc))
                return _SKIPPED

        replies = list(self._workers.map(one, ids))
        wanted = [r for r in replies if r is not _VANISHED and r is not _SKIPPED]
        parsed = parse_records(wanted, varlink_parse.stats, "stats")
        batch = measured(parsed)
        missing = sum(1 for r in replies if r is _SKIPPED)
        if missing:
            reason = (unreachable or failure or ["stats budget spent"])[0]
            message = f"stats missing for {missing} of {len(ids)} containers: {reason}"
            if unreachable and not batch.items and len(ids) == missing:
                raise PodmanUnavailable(message)
            raise PartialFailure(message, batch)
        return batch

    def list_images(self) -> Batch[Image]:
        """Return every image (ListImages)."""
        reply = self.call("ListImages").get("images")
        return parse_records(reply, varlink_parse.image, "image")

    def host_info(self) -> Batch[HostInfo]:
        """Return host info (GetInfo, or the seed's Info) and the version (GetVersion)."""
        try:
            info = self.call(self._info_method).get("info")
        except Unsupported:
            if self._info_method != "GetInfo":
                raise
            self._info_method = "Info"
            info = self.call("Info").get("info")
        try:
            version: Record | None = Record(self.call("GetVersion").get("version"))
        except (Unsupported, ValueError):
            version = None
        batch = parse_records([info], lambda r: varlink_parse.host_info(r, version), "host info")
        if not batch.items:
            raise PodmanError(f"{self._info_method}: the reply holds no info object")
        return batch

    def list_pods(self) -> Batch[Pod]:
        """Pods do not exist in this interface."""
        raise Unsupported("io.projectatomic.podman has no pods")

    def list_volumes(self) -> Batch[Volume]:
        """Volumes do not exist in this interface."""
        raise Unsupported("io.projectatomic.podman has no volumes")

    def list_networks(self) -> Batch[Network]:
        """Networks do not exist in this interface."""
        raise Unsupported("io.projectatomic.podman has no networks")

    # -- actions -----------------------------------------------------------

    def _ids(self, method: str, field: str, **params: Any) -> list[str]:
        value = self.call(method, **params).get(field)
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    def _id(self, method: str, field: str, grace: float = 0.0, **params: Any) -> str:
        value = self.call(method, grace=grace, **params).get(field)
        return value if isinstance(value, str) else ""

    def delete_stopped_containers(self) -> list[str]:
        """DeleteStoppedContainers; return the removed ids."""
        return self._ids("DeleteStoppedContainers", "containers")

    def delete_unused_images(self) -> list[str]:
        """DeleteUnusedImages; return the removed ids."""
        return self._ids("DeleteUnusedImages", "images")

    def stop_container(self, name: str, timeout: int) -> str:
        """StopContainer; return the id."""
        return self._id("StopContainer", "container", timeout, name=name, timeout=timeout)

    def restart_container(self, name: str, timeout: int) -> str:
        """RestartContainer; return the id."""
        return self._id("RestartContainer", "container", timeout, name=name, timeout=timeout)

    def kill_container(self, name: str, signal: int) -> str:
        """KillContainer; return the id."""
        return self._id("KillContainer", "container", name=name, signal=signal)

    def pause_container(self, name: str) -> str:
        """PauseContainer; return the id."""
        return self._id("PauseContainer", "container", name=name)

    def unpause_container(self, name: str) -> str:
        """UnpauseContainer; return the id."""
        return self._id("UnpauseContainer", "container", name=name)

    def remove_container(self, name: str, force: bool) -> str:
        """RemoveContainer; return the id."""
        # a forced remove stops the container first, with Podman's default 10 s grace
        return self._id("RemoveContainer", "container", 10.0 if force else 0.0,
                        name=name, force=force)

    def remove_image(self, name: str, force: bool) -> str:
        """RemoveImage; return the id."""
        return self._id("RemoveImage", "image", name=name, force=force)

    def close(self) -> None:
        """Close the connections and stop the worker threads."""
        self._workers.shutdown(wait=False, cancel_futures=True)
        self._pool.close()
