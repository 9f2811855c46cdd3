"""libpod REST replies -> model records, tolerant of malformed input.

Rules, the same for every record type:

- A record that is not a JSON object, or lacks its identity (a container's
  ``Id``, an image's ``Id``, a pod's ``Id``, a stats entry's ``ContainerID``,
  a volume's ``Name``, a network's ``name``), is dropped and counted in ``Batch.bad``; the other
  records are kept (``fields.parse_records``).
- Any other field of the wrong type becomes ``None`` (its series is absent)
  or an empty string/tuple/mapping for label values, and the record is kept
  but counted bad: a container whose ``ExitCode`` is garbage still has a state
  worth reporting, and dropping it would make it vanish from every series.
- Times: RFC 3339 text (nanoseconds allowed) or unix seconds -> float unix
  seconds; Go's zero time (``0001-01-01T00:00:00Z``, i.e. -62135596800) and
  anything unparsable -> ``None``.
- Health: ``containers/json`` has no ``State.Health``, but Podman 4 and 5 put
  the health word (``healthy``, ``unhealthy``, ``starting``) in the list
  entry's ``Status``; empty means no health check, reported as UNKNOWN (-1).
  A health check only changes state when it runs (a systemd timer, or
  ``podman healthcheck run``).
  This costs nothing extra, where ``inspect`` would cost one call per container.
"""

from __future__ import annotations

from podman_exporter.podman.corrections import net_pair, uptime_ranges
from podman_exporter.podman.fields import Record
from podman_exporter.podman.timeparse import rfc3339
from podman_exporter.snapshot.model import (
    Container,
    ContainerSize,
    ContainerState,
    ContainerStats,
    Health,
    HostInfo,
    Image,
    Network,
    Pod,
    PodState,
    PortMapping,
    VersionInfo,
    Volume,
)


def unix_seconds(value: int | None) -> float | None:
    """Return ``value`` as float unix seconds; None for 0, negatives and Go's zero time."""
    return float(value) if value is not None and value > 0 else None


def _port(rec: Record) -> PortMapping | None:
    """Return a PortMapping from a libpod or Docker-style port entry, None if unusable."""
    if rec.integer("PrivatePort") is not None:  # Docker-compatible shape
        public = rec.count("PublicPort")
        return PortMapping(
            host_ip=rec.text("IP"),
            host_port="" if public is None else str(public),
            container_port=str(rec.count("PrivatePort")),
            protocol=rec.text("Type"),
        )
    host, ctr = rec.count("host_port"), rec.count("container_port")
    if host is None or ctr is None:
        return None
    span = rec.count("range") or 1
    if span > 1:
        host_text, ctr_text = f"{host}-{host + span - 1}", f"{ctr}-{ctr + span - 1}"
    else:
        host_text, ctr_text = str(host), str(ctr)
    return PortMapping(rec.text("host_ip"), host_text, ctr_text, rec.text("protocol"))


def container(rec: Record) -> Container:
    """Return a Container from one ``containers/json`` entry."""
    cid = rec.identity("Id")
    names = rec.texts("Names")
    status = rec.text("Status")
    return Container(
        id=cid,
        name=(names[0].lstrip("/") if names else "") or cid[:12],
        image=rec.text("Image"),
        image_id=rec.text("ImageID"),
        state=ContainerState.parse(rec.text("State")),
        created=rfc3339(rec.text("Created")),
        ports=tuple(p for p in map(_port, rec.records("Ports")) if p is not None),
        labels=rec.labels("Labels"),
        pod_id=rec.text("Pod"),
        pod_name=rec.text("PodName"),
        pid=rec.count("Pid") or None,
        exit_code=rec.integer("ExitCode"),
        started=unix_seconds(rec.integer("StartedAt")),
        exited=unix_seconds(rec.integer("ExitedAt")),
        health=Health.parse(status),
    )


def size(rec: Record) -> ContainerSize:
    """Return ContainerSize from one ``containers/json?size=true`` entry; an entry without
    ``Size`` (Podman could not compute it) has both sizes None."""
    size = rec.sub("Size")
    return ContainerSize(rec.identity("Id"), size.count("rootFsSize"), size.count("rwSize"))


def _seconds(nanos: int | None) -> float | None:
    return None if nanos is None else nanos / 1e9


def stats(rec: Record, swapped: bool | None) -> ContainerStats:
    """Return ContainerStats from one ``containers/stats`` entry; ``swapped`` tells whether
    the Podman that sent it swaps NetInput and NetOutput (``net_counters_swapped``).

    CPU comes from the cumulative counters CPUNano and CPUSystemNano, never from
    the CPU percentage (which depends on the previous sample Podman kept). Network
    counters come from the per-interface ``Network`` map where Podman sends one (5.0
    and later), summed over the interfaces; else the bytes come from
    NetInput/NetOutput, corrected by ``net_pair``, and packets, errors and drops are
    unknown (Podman 4 has no such counts).
    """
    net = _network(rec, swapped)
    return ContainerStats(
        id=rec.identity("ContainerID"),
        cpu_seconds=_seconds(rec.count("CPUNano")),
        cpu_system_seconds=_seconds(rec.count("CPUSystemNano")),
        mem_usage_bytes=rec.count("MemUsage"),
        mem_limit_bytes=rec.count("MemLimit"),
        net_input_bytes=net.get("RxBytes"),
        net_output_bytes=net.get("TxBytes"),
        net_input_packets=net.get("RxPackets"),
        net_input_errors=net.get("RxErrors"),
        net_input_dropped=net.get("RxDropped"),
        net_output_packets=net.get("TxPackets"),
        net_output_errors=net.get("TxErrors"),
        net_output_dropped=net.get("TxDropped"),
        block_input_bytes=rec.count("BlockInput"),
        block_output_bytes=rec.count("BlockOutput"),
        pids=rec.count("PIDs"),
    )


NET_COUNTERS = ("RxBytes", "RxPackets", "RxErrors", "RxDropped",
                "TxBytes", "TxPackets", "TxErrors", "TxDropped")
"""The counters of one interface in the stats' ``Network`` map (Podman 5.0 and later)."""


def _network(rec: Record, swapped: bool | None) -> dict[str, int | None]:
    """Return the NET_COUNTERS summed over the ``Network`` map's interfaces (None for a
    counter some interface lacks); without a map, only RxBytes and TxBytes, from
    NetInput and NetOutput."""
    if not isinstance(rec.raw("Network"), dict):
        rx, tx = net_pair(rec.count("NetInput"), rec.count("NetOutput"), swapped)
        return {"RxBytes": rx, "TxBytes": tx}
    interfaces = rec.sub("Network")
    totals: dict[str, int | None] = dict.fromkeys(NET_COUNTERS, 0)
    for name in interfaces.names():
        one = interfaces.sub(name)
        for key in NET_COUNTERS:
            totals[key] = _add(totals[key], one.count(key))
    return totals


def _add(total: int | None, part: int | None) -> int | None:
    return None if total is None or part is None else total + part


def image(rec: Record) -> Image:
    """Return an Image from one ``images/json`` entry (size is ``Size``, as ``podman images``)."""
    return Image(
        id=rec.identity("Id"),
        parent_id=rec.text("ParentId"),
        repo_tags=rec.texts("RepoTags"),
        repo_digests=rec.texts("RepoDigests"),
        digest=rec.text("Digest"),
        created=unix_seconds(rec.integer("Created")),
        size_bytes=rec.count("Size"),
        containers=rec.count("Containers"),
        labels=rec.labels("Labels"),
    )


def pod(rec: Record) -> Pod:
    """Return a Pod from one ``pods/json`` entry; ``containers`` counts the infra container."""
    pid = rec.identity("Id")
    members = rec.records("Containers")
    return Pod(
        id=pid,
        name=rec.text("Name") or pid[:12],
        infra_id=rec.text("InfraId"),
        state=PodState.parse(rec.text("Status")),
        containers=len(members),
        created=rfc3339(rec.text("Created")),
    )


def volume(rec: Record) -> Volume:
    """Return a Volume from one ``volumes/json`` entry."""
    return Volume(
        name=rec.identity("Name"), driver=rec.text("Driver"), mount_point=rec.text("Mountpoint"),
        created=rfc3339(rec.text("CreatedAt")),
    )


def network(rec: Record) -> Network:
    """Return a Network from one ``networks/json`` entry (``labels`` is left out when empty)."""
    return Network(
        id=rec.text("id"),
        name=rec.identity("name"),
        driver=rec.text("driver"),
        interface=rec.text("network_interface"),
        labels=rec.labels("labels"),
    )


def runtime_version(text: str) -> str:
    """Return the OCI runtime's version as the Go exporter shows it: ``host.ociRuntime.version``
    up to its first ``:``, without the word ``commit``, first line only (lines
    ``runc version 1.1.5+ds1``, ``commit: ...`` ... -> ``runc version 1.1.5+ds1``)."""
    return text.split(":", 1)[0].replace("commit", "").split("\n", 1)[0]


def conmon_version(text: str) -> str:
    """Return conmon's version as the Go exporter shows it: ``host.conmon.version`` up to its
    first ``,``, without ``conmon version`` (``conmon version 2.1.6, commit: ...`` -> ``2.1.6``)."""
    return text.split(",", 1)[0].replace("conmon version", "").strip()


def host_info(rec: Record) -> HostInfo:
    """Return HostInfo from the ``info`` reply; missing or mistyped fields are None or empty."""
    host, store, ver = rec.sub("host"), rec.sub("store"), rec.sub("version")
    return HostInfo(
        hostname=host.text("hostname"),
        kernel=host.text("kernel"),
        os=host.text("os"),
        arch=host.text("arch"),
        cpus=host.count("cpus"),
        mem_total_bytes=host.count("memTotal"),
        mem_free_bytes=host.count("memFree"),
        swap_total_bytes=host.count("swapTotal"),
        swap_free_bytes=host.count("swapFree"),
        uptime_ranges=uptime_ranges(host.text("uptime"), ver.text("Version")),
        store_containers=store.sub("containerStore").count("number"),
        store_images=store.sub("imageStore").count("number"),
        graph_driver_name=store.text("graphDriverName"),
        graph_root=store.text("graphRoot"),
        run_root=store.text("runRoot"),
        version=VersionInfo(
            version=ver.text("Version"),
            go_version=ver.text("GoVersion"),
            git_commit=ver.text("GitCommit"),
            os_arch=ver.text("OsArch"),
        ),
        api_version=ver.text("APIVersion"),
        runtime_version=runtime_version(host.sub("ociRuntime").text("version")),
        conmon_version=conmon_version(host.sub("conmon").text("version")),
        buildah_version=host.text("buildahVersion"),
    )
