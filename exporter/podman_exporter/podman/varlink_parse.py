"""Records of the ``io.projectatomic.podman`` replies -> model records."""

from __future__ import annotations

from podman_exporter.podman.corrections import net_pair, uptime_ranges
from podman_exporter.podman.fields import Record
from podman_exporter.podman.timeparse import go_time
from podman_exporter.snapshot.model import (
    Container,
    ContainerSize,
    ContainerState,
    ContainerStats,
    HostInfo,
    Image,
    PortMapping,
    VersionInfo,
)


def _time(record: Record, key: str) -> float | None:
    text = record.text(key)
    if not text:
        return None
    parsed = go_time(text)
    if parsed is None:
        record.problems.append(f"{key}: not a Go time: {text[:40]!r}")
    return parsed


def container(record: Record) -> Container:
    """Return a Container from a ``ListContainerData`` record."""
    cid = record.identity("id")
    names = record.texts("names")  # one string in the service, a list in some clients
    ports = tuple(
        PortMapping(
            host_ip=p.text("host_ip"),
            host_port=p.text("host_port"),
            container_port=p.text("container_port"),
            protocol=p.text("protocol"),
        )
        for p in record.records("ports")
    )
    return Container(
        id=cid,
        name=(names[0] if names else "") or cid[:12],
        image=record.text("image"),
        image_id=record.text("imageid"),
        state=ContainerState.parse_varlink(record.text("status")),
        created=_time(record, "createdat"),
        ports=ports,
        labels=record.labels("labels"),
        pid=_pid(record.sub("namespaces").text("pid")),
    )


def _pid(text: str) -> int | None:
    """Return the process id the service writes as text in ``namespaces.pid``; None when
    it is empty, 0 or not a number."""
    return int(text) if text.isdigit() and int(text) > 0 else None


def size(record: Record) -> ContainerSize:
    """Return ContainerSize from a ``ListContainerData`` record.

    The service wrote 0 for both sizes when it could not compute them, and a root
    filesystem is never empty: a ``rootfssize`` of 0 (or none) means both are unknown.
    """
    rootfs, rw = record.count("rootfssize"), record.count("rwsize")
    known = bool(rootfs)
    return ContainerSize(record.identity("id"), rootfs if known else None,
                         rw if known else None)


def stats(record: Record) -> ContainerStats:
    """Return ContainerStats from a ``ContainerStats`` record (nanoseconds -> seconds).

    The service filled net_input from the transmit counter and net_output from the
    receive counter (corrections.py): they are exchanged back.
    """
    cpu_nano = record.count("cpu_nano")
    system_nano = record.count("system_nano")
    received, sent = net_pair(record.count("net_input"), record.count("net_output"), True)
    return ContainerStats(
        id=record.identity("id"),
        cpu_seconds=None if cpu_nano is None else cpu_nano / 1e9,
        cpu_system_seconds=None if system_nano is None else system_nano / 1e9,
        mem_usage_bytes=record.count("mem_usage"),
        mem_limit_bytes=record.count("mem_limit"),
        net_input_bytes=received,
        net_output_bytes=sent,
        block_input_bytes=record.count("block_input"),
        block_output_bytes=record.count("block_output"),
        pids=record.count("pids"),
    )


def image(record: Record) -> Image:
    """Return an Image from an ``ImageInList`` record.

    The service left ``size`` at 0 and filled ``virtualSize``: the larger of the two is
    the image's size.
    """
    size = record.count("size")
    virtual = record.count("virtualSize")
    sizes = [s for s in (size, virtual) if s is not None]
    return Image(
        id=record.identity("id"),
        parent_id=record.text("parentId"),
        repo_tags=record.texts("repoTags"),
        repo_digests=(digests := record.texts("repoDigests")),
        digest=next((d.rpartition("@")[2] for d in digests if "@" in d), ""),
        created=_time(record, "created"),
        size_bytes=max(sizes) if sizes else None,
        containers=record.count("containers"),
        labels=record.labels("labels"),
    )


def host_info(info: Record, version: Record | None) -> HostInfo:
    """Return HostInfo from a ``PodmanInfo`` record and, if given, a ``Version`` record.

    ``swap_total`` was never filled by the service (always 0): it is reported only when
    non-zero. ``podman.podman_version`` was never filled either: GetVersion supplies it.
    The interface has no API, OCI runtime, conmon or buildah version: they stay empty
    (their series are absent).
    """
    host, store, binary = info.sub("host"), info.sub("store"), info.sub("podman")
    swap_total = host.count("swap_total")
    return HostInfo(
        hostname=host.text("hostname"),
        kernel=host.text("kernel"),
        os=host.text("os"),
        arch=host.text("arch"),
        cpus=host.count("cpus"),
        mem_total_bytes=host.count("mem_total"),
        mem_free_bytes=host.count("mem_free"),
        swap_total_bytes=swap_total or None,
        swap_free_bytes=host.count("swap_free"),
        uptime_ranges=uptime_ranges(host.text("uptime"), None),
        store_containers=store.count("containers"),
        store_images=store.count("images"),
        graph_driver_name=store.text("graph_driver_name"),
        graph_root=store.text("graph_root"),
        run_root=store.text("run_root"),
        version=VersionInfo(
            version=(version.text("version") if version else "") or binary.text("podman_version"),
            go_version=(version.text("go_version") if version else "") or binary.text("go_version"),
            git_commit=(version.text("git_commit") if version else "") or binary.text("git_commit"),
            os_arch=version.text("os_arch") if version else "",
        ),
    )
