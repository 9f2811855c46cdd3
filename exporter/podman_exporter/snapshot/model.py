"""Typed, immutable records of what Podman reported, with values already parsed.

Both backends (varlink and REST) produce these records; everything downstream
(snapshot, metric families, exposition) only ever sees them. A field that a
backend cannot supply is ``None`` and the matching series is left out, never
reported as zero.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Generic, TypeVar

EMPTY_LABELS: Mapping[str, str] = MappingProxyType({})


class ContainerState(enum.IntEnum):
    """Value of ``podman_container_state``: the numbering of prometheus-podman-exporter."""

    UNKNOWN = -1
    CREATED = 0
    INITIALIZED = 1
    RUNNING = 2
    STOPPED = 3
    PAUSED = 4
    EXITED = 5
    REMOVING = 6
    STOPPING = 7

    @classmethod
    def parse(cls, text: str) -> ContainerState:
        """Return the state for a libpod REST status word (``running``, ``Exited`` ...).

        These are the words of Podman 1.0 and later, where ``created`` is a
        container not yet handed to the OCI runtime and ``initialized`` one that is.
        """
        return _STATE_WORDS.get(text.strip().lower(), cls.UNKNOWN)

    @classmethod
    def parse_varlink(cls, text: str) -> ContainerState:
        """Return the state for an ``io.projectatomic.podman`` status word.

        The 2018 service named the states by libpod's constants of the time:
        ``configured`` is what Podman now calls ``created``, and its ``created``
        is what Podman now calls ``initialized``.
        """
        word = text.strip().lower()
        return _VARLINK_STATE_WORDS.get(word, _STATE_WORDS.get(word, cls.UNKNOWN))

    def varlink_word(self) -> str:
        """Return the ``io.projectatomic.podman`` status word for this state."""
        return _VARLINK_WORD_OF.get(self, self.name.lower())


_STATE_WORDS = {
    "created": ContainerState.CREATED,
    "initialized": ContainerState.INITIALIZED,
    "running": ContainerState.RUNNING,
    "up": ContainerState.RUNNING,
    "stopped": ContainerState.STOPPED,
    "paused": ContainerState.PAUSED,
    "exited": ContainerState.EXITED,
    "removing": ContainerState.REMOVING,
    "stopping": ContainerState.STOPPING,
}
_VARLINK_STATE_WORDS = {
    "configured": ContainerState.CREATED,
    "created": ContainerState.INITIALIZED,
}
_VARLINK_WORD_OF = {
    ContainerState.CREATED: "configured",
    ContainerState.INITIALIZED: "created",
    # The 2018 service had no words for these: a stopped container was "exited".
    ContainerState.STOPPED: "exited",
    ContainerState.REMOVING: "exited",
    ContainerState.STOPPING: "running",
}


class Health(enum.IntEnum):
    """Value of ``podman_container_health``."""

    UNKNOWN = -1
    HEALTHY = 0
    UNHEALTHY = 1
    STARTING = 2

    @classmethod
    def parse(cls, text: str) -> Health:
        """Return the health for Podman's health word (``healthy``, ``starting`` ...)."""
        return {
            "healthy": cls.HEALTHY,
            "unhealthy": cls.UNHEALTHY,
            "starting": cls.STARTING,
        }.get(text.strip().lower(), cls.UNKNOWN)


@dataclass(frozen=True, slots=True)
class PortMapping:
    """One published port."""

    host_ip: str
    host_port: str
    container_port: str
    protocol: str

    def render(self) -> str:
        """Return the text ``podman ps`` shows, e.g. ``0.0.0.0:8080->80/tcp``: an empty host
        address is ``0.0.0.0``, and a mapping for ``tcp,udp`` is one entry per protocol."""
        host = f"{self.host_ip or '0.0.0.0'}:{self.host_port}"  # noqa: S104 - display text
        return ", ".join(f"{host}->{self.container_port}/{proto}"
                         for proto in (self.protocol or "tcp").split(","))


@dataclass(frozen=True, slots=True)
class Container:
    """One container as listed by Podman."""

    id: str
    name: str
    image: str = ""
    image_id: str = ""
    state: ContainerState = ContainerState.UNKNOWN
    created: float | None = None
    ports: tuple[PortMapping, ...] = ()
    labels: Mapping[str, str] = field(default_factory=lambda: EMPTY_LABELS)
    pod_id: str = ""
    pod_name: str = ""
    pid: int | None = None
    """Host process id of the container's main process while it runs (reads its memory
    cgroup's OOM kills when the exporter shares the host's /proc); None otherwise."""
    # Only the REST backend knows these.
    exit_code: int | None = None
    started: float | None = None
    exited: float | None = None
    health: Health | None = None

    @property
    def short_id(self) -> str:
        """Return the 12-character id used in labels."""
        return self.id[:12]


@dataclass(frozen=True, slots=True)
class ContainerSize:
    """Disk use of one container (``podman ps --size``); Podman computes it by walking
    the container's layers, so it is collected on its own, slower schedule."""

    id: str
    rootfs_bytes: int | None = None
    """Size of the root filesystem: the image's layers plus the writable layer."""
    rw_bytes: int | None = None
    """Size of what the container added or changed in its writable layer."""


@dataclass(frozen=True, slots=True)
class ContainerStats:
    """Resource usage of one running or paused container; counters are cumulative."""

    id: str
    cpu_seconds: float | None = None
    cpu_system_seconds: float | None = None
    mem_usage_bytes: int | None = None
    mem_limit_bytes: int | None = None
    net_input_bytes: int | None = None
    net_output_bytes: int | None = None
    net_input_packets: int | None = None
    """Packets received (Podman 5.0 and later: its per-interface ``Network`` map)."""
    net_input_errors: int | None = None
    net_input_dropped: int | None = None
    net_output_packets: int | None = None
    """Packets sent (Podman 5.0 and later)."""
    net_output_errors: int | None = None
    net_output_dropped: int | None = None
    block_input_bytes: int | None = None
    block_output_bytes: int | None = None
    pids: int | None = None


@dataclass(frozen=True, slots=True)
class Image:
    """One image in local storage."""

    id: str
    parent_id: str = ""
    repo_tags: tuple[str, ...] = ()
    repo_digests: tuple[str, ...] = ()
    created: float | None = None
    size_bytes: int | None = None
    containers: int | None = None
    labels: Mapping[str, str] = field(default_factory=lambda: EMPTY_LABELS)
    digest: str = ""
    """The image's own digest (``sha256:...``)."""


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """Podman's build."""

    version: str = ""
    go_version: str = ""
    git_commit: str = ""
    os_arch: str = ""


@dataclass(frozen=True, slots=True)
class HostInfo:
    """The host and storage sections of Podman's info, plus its version."""

    hostname: str = ""
    kernel: str = ""
    os: str = ""
    arch: str = ""
    cpus: int | None = None
    mem_total_bytes: int | None = None
    mem_free_bytes: int | None = None
    swap_total_bytes: int | None = None
    swap_free_bytes: int | None = None
    boot_time: float | None = None
    """Unix time the host booted, set by the host collector from ``uptime_ranges`` (see
    podman/corrections.py); the exported uptime is measured from it."""
    store_containers: int | None = None
    store_images: int | None = None
    graph_driver_name: str = ""
    graph_root: str = ""
    run_root: str = ""
    version: VersionInfo = field(default_factory=VersionInfo)
    uptime_ranges: tuple[tuple[float, float], ...] = ()
    """True uptimes, ``[low, high)`` seconds, that Podman's uptime text can stand for."""
    api_version: str = ""
    """Podman's API version (REST ``version.APIVersion``); "" when unknown, as the
    other component versions below."""
    runtime_version: str = ""
    """The OCI runtime's name and version, e.g. ``runc version 1.1.5``."""
    conmon_version: str = ""
    buildah_version: str = ""


class PodState(enum.IntEnum):
    """Value of ``podman_pod_state`` (the numbering of prometheus-podman-exporter)."""

    UNKNOWN = -1
    CREATED = 0
    ERROR = 1
    EXITED = 2
    PAUSED = 3
    RUNNING = 4
    DEGRADED = 5
    STOPPED = 6

    @classmethod
    def parse(cls, text: str) -> PodState:
        """Return the state for Podman's pod status word (``Running``, ``Degraded`` ...)."""
        return cls.__members__.get(text.strip().upper(), cls.UNKNOWN)


@dataclass(frozen=True, slots=True)
class Pod:
    """One pod (REST backend only)."""

    id: str
    name: str
    infra_id: str = ""
    state: PodState = PodState.UNKNOWN
    containers: int | None = None
    created: float | None = None


@dataclass(frozen=True, slots=True)
class Volume:
    """One volume (REST backend only)."""

    name: str
    driver: str = ""
    mount_point: str = ""
    created: float | None = None


@dataclass(frozen=True, slots=True)
class Network:
    """One network (REST backend only)."""

    id: str
    name: str
    driver: str = ""
    interface: str = ""
    """The host's network interface of the network, e.g. the bridge ``podman1``."""
    labels: Mapping[str, str] = field(default_factory=lambda: EMPTY_LABELS)


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Batch(Generic[T]):
    """Records parsed from one Podman reply, and how many records were malformed and dropped."""

    items: tuple[T, ...] = ()
    bad: int = 0
