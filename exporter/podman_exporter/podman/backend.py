"""The interface every Podman backend (varlink, REST) offers, and its errors.

Backends are synchronous and thread-safe: the scheduler calls them from worker
threads, the admin endpoint from the web server's thread pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

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


class PodmanError(Exception):
    """Podman answered with an error."""


class PodmanUnavailable(PodmanError):
    """Podman could not be reached, timed out, or dropped the connection."""


class NotFound(PodmanError):
    """The named container or image does not exist."""


class Unsupported(PodmanError):
    """This backend cannot supply the requested data or action."""


class PartialFailure(PodmanError):
    """Some of the records could not be fetched; ``batch`` holds those that could."""

    def __init__(self, message: str, batch: Batch[Any]) -> None:
        super().__init__(message)
        self.batch = batch


class PodmanBackend(Protocol):
    """What the collectors and the admin endpoint need from Podman."""

    @property
    def api(self) -> str:
        """Return ``"varlink"`` or ``"rest"``."""
        ...

    def ping(self) -> None:
        """Return when Podman answers; raise PodmanUnavailable otherwise."""
        ...

    def list_containers(self) -> Batch[Container]:
        """Return every container, running or not."""
        ...

    def container_sizes(self) -> Batch[ContainerSize]:
        """Return the disk use of every container (expensive: Podman walks the layers)."""
        ...

    def container_stats(self, ids: Sequence[str]) -> Batch[ContainerStats]:
        """Return stats for the given running or paused containers; vanished ones (and,
        where the API answers zeros for them, unmeasured ones) are left out.

        Raises PartialFailure when only some could be fetched, PodmanUnavailable when
        none could.
        """
        ...

    def list_images(self) -> Batch[Image]:
        """Return every image in local storage."""
        ...

    def host_info(self) -> Batch[HostInfo]:
        """Return host, store and version information (one record, and whether it was
        malformed)."""
        ...

    def list_pods(self) -> Batch[Pod]:
        """Return every pod; raise Unsupported where the API has no pods."""
        ...

    def list_volumes(self) -> Batch[Volume]:
        """Return every volume; raise Unsupported where the API has no volumes."""
        ...

    def list_networks(self) -> Batch[Network]:
        """Return every network; raise Unsupported where the API has no networks."""
        ...

    # Maintenance actions (the admin endpoint). Each returns the affected ids.

    def delete_stopped_containers(self) -> list[str]:
        """Remove every container that is not running; return their ids."""
        ...

    def delete_unused_images(self) -> list[str]:
        """Remove every image no container uses; return their ids."""
        ...

    def stop_container(self, name: str, timeout: int) -> str:
        """Stop a container; return its id."""
        ...

    def restart_container(self, name: str, timeout: int) -> str:
        """Restart a container; return its id."""
        ...

    def kill_container(self, name: str, signal: int) -> str:
        """Send a signal to a container; return its id."""
        ...

    def pause_container(self, name: str) -> str:
        """Pause a container; return its id."""
        ...

    def unpause_container(self, name: str) -> str:
        """Unpause a container; return its id."""
        ...

    def remove_container(self, name: str, force: bool) -> str:
        """Remove a container; return its id."""
        ...

    def remove_image(self, name: str, force: bool) -> str:
        """Remove an image; return its id."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
