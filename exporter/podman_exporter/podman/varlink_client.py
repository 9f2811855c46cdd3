"""A pooled, time-bounded client for the ``io.projectatomic.podman`` varlink service.

One varlink connection carries one call at a time, so the backend keeps up to
``connections`` of them. Each call runs under a socket timeout; a connection that
timed out, broke or answered garbage is closed and a fresh one opened next time.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import varlink

from podman_exporter.podman import varlink_parse
from podman_exporter.podman.backend import (
    NotFound,
    PartialFailure,
    PodmanError,
    PodmanUnavailable,
    Unsupported,
)
from podman_exporter.podman.fields import Record, parse_records
from podman_exporter.podman.interface import (
    ERROR_PREFIX,
    INTERFACE_NAME,
    METHOD_NOT_FOUND,
    lenient_interface,
)
from podman_exporter.snapshot.model import (
    Batch,
    Container,
    ContainerStats,
    HostInfo,
    Image,
    Pod,
    Volume,
)

log = logging.getLogger(__name__)

_VANISHED = object()
_SKIPPED = object()

_READS = ("Ping", "List", "Get", "Info")
"""Prefixes of the methods that change nothing, safe to send twice."""

_NOT_FOUND = {ERROR_PREFIX + "ContainerNotFound", ERROR_PREFIX + "ImageNotFound"}


def _connector(address: str, timeout: float) -> Any:
    """Return a function opening a connected socket to a ``unix:`` or ``tcp:`` address."""
    if address.startswith("unix:"):
        path = address[5:].split(";", 1)[0]
        if path.startswith("@"):
            path = "\0" + path[1:]

        def open_unix() -> socket.socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(path)
            except OSError:
                sock.close()
                raise
            return sock

        return open_unix
    if address.startswith("tcp:"):
        host, sep, port = address[4:].rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"invalid varlink address {address!r} (want tcp:host:port)")
        host = host.strip("[]")
        return lambda: socket.create_connection((host, int(port)), timeout=timeout)
    raise ValueError(f"invalid varlink address {address!r} (want unix:/path or tcp:host:port)")


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
        if bridge:
            self._client = varlink.Client.new_with_bridge(shlex.split(bridge))
            self._open_socket = self._client.open_connection
            self.target = f"bridge: {bridge}"
        elif address:
            self._client = varlink.Client()
            self._open_socket = _connector(address, timeout)
            self.target = address
        else:
            raise ValueError("a varlink address or bridge command is required")
        self._client.add_interface(lenient_interface())
        self._timeout = timeout
        self._stats_budget = stats_budget if stats_budget is not None else 2 * timeout
        self._slots = threading.BoundedSemaphore(connections)
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._info_method = "GetInfo"
        self._workers = ThreadPoolExecutor(connections, thread_name_prefix="varlink")

    # -- connection pool -------------------------------------------------

    @contextlib.contextmanager
    def _connection(self, fresh: bool = False) -> Iterator[tuple[Any, bool]]:
        """Yield a connection and whether it was reused from the pool."""
        if not self._slots.acquire(timeout=self._timeout):
            raise PodmanUnavailable("all varlink connections busy")
        try:
            with self._lock:
                handle = self._idle.pop() if self._idle and not fresh else None
            reused = handle is not None
            if handle is None:
                handle = self._open()
            healthy = False
            try:
                yield handle, reused
                healthy = True
            except varlink.VarlinkError:
                healthy = True  # the service answered: the connection is fine
                raise
            finally:
                if healthy:
                    with self._lock:
                        self._idle.append(handle)
                else:
                    handle.close()
        finally:
            self._slots.release()

    def _open(self) -> Any:
        try:
            sock = self._open_socket()
            sock.settimeout(self._timeout)
        except OSError as exc:
            raise PodmanUnavailable(f"cannot connect to {self.target}: {exc}") from exc
        return self._client.open(INTERFACE_NAME, connection=sock)

    def call(self, method: str, *, grace: float = 0.0, **params: Any) -> dict[str, Any]:
        """Return the reply parameters of one call; map failures to backend errors.

        ``grace`` extends the timeout of this call (a stop waits for the container).
        A read-only call that fails on a pooled connection (other than by timing out)
        is retried once on a new one: the service may have restarted since.
        """
        reused = False
        try:
            try:
                with self._connection() as (handle, reused):
                    if grace:
                        handle._connection.settimeout(self._timeout + grace)
                    reply = getattr(handle, method)(**params)
                    if grace:
                        handle._connection.settimeout(self._timeout)
            except (OSError, ValueError, varlink.ConnectionError) as exc:
                if not reused or isinstance(exc, TimeoutError) or not method.startswith(_READS):
                    raise
                with self._connection(fresh=True) as (handle, _):
                    reply = getattr(handle, method)(**params)
        except varlink.VarlinkError as exc:
            name, parameters = exc.error(), exc.parameters() or {}
            detail = parameters.get("reason") or parameters.get("name") or ""
            if name in _NOT_FOUND:
                raise NotFound(f"{name.rsplit('.', 1)[-1]}: {detail}") from exc
            if name == METHOD_NOT_FOUND:
                raise Unsupported(f"{method}: {name}") from exc
            raise PodmanError(f"{method}: {name} {detail}".strip()) from exc
        except (OSError, ValueError, varlink.ConnectionError) as exc:
            # timeouts, resets, broken pipes, truncated or non-JSON replies
            reason = str(exc) or type(exc).__name__
            raise PodmanUnavailable(f"{method} on {self.target}: {reason}") from exc
        return reply if isinstance(reply, dict) else {}

    # -- collection --------------------------------------------------------

    def ping(self) -> None:
        """Return when the service answers Ping."""
        self.call("Ping")

    def list_containers(self) -> Batch[Container]:
        """Return every container (ListContainers)."""
        reply = self.call("ListContainers").get("containers")
        return parse_records(reply, varlink_parse.container, "container")

    def container_stats(self, ids: Sequence[str]) -> Batch[ContainerStats]:
        """Return stats of the given containers, fetched concurrently over the pool.

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
        batch = parse_records(wanted, varlink_parse.stats, "stats")
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
        """Close idle connections and stop the worker threads."""
        self._workers.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            idle, self._idle = self._idle, []
        for handle in idle:
            handle.close()
        self._client.cleanup()
