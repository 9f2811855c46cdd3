"""Host, store and version families from Podman's info.

Sample of the exposition (classic text, HELP lines shortened)::

    # TYPE podman_host_memory_total_bytes gauge
    podman_host_memory_total_bytes 8.2e+09
    # TYPE podman_host_cpus gauge
    podman_host_cpus 4.0
    # TYPE podman_host_uptime_seconds gauge
    podman_host_uptime_seconds 15182.5
    # TYPE podman_host_info gauge
    podman_host_info{hostname="node1",kernel="6.1.0-18-amd64",os="linux",arch="amd64"} 1.0
    # TYPE podman_store_containers gauge
    podman_store_containers 12.0
    # TYPE podman_store_info gauge
    podman_store_info{graph_driver_name="overlay",graph_root="/var/lib/containers/storage",run_root="/run/containers/storage"} 1.0
    # TYPE podman_version_info gauge
    podman_version_info{version="4.3.1",go_version="go1.19.8",git_commit="",os_arch="linux/amd64"} 1.0
    # TYPE podman_system_api_version gauge
    podman_system_api_version{version="4.3.1"} 1.0
    # TYPE podman_system_runtime_version gauge
    podman_system_runtime_version{version="runc version 1.1.5+ds1"} 1.0
    # TYPE podman_system_conmon_version gauge
    podman_system_conmon_version{version="2.1.6"} 1.0
    # TYPE podman_system_buildah_version gauge
    podman_system_buildah_version{version="1.28.2"} 1.0
"""  # noqa: E501

from __future__ import annotations

from prometheus_client.core import Metric

from podman_exporter.metrics.family import Family, finish
from podman_exporter.snapshot.model import HostInfo


def _scalar(name: str, doc: str, value: float | None, unit: str = "") -> Family:
    family = Family("gauge", name, doc, (), unit)
    family.add((), value)
    return family


class _Info(Family):
    """A family naming the host or its software: left out with ``--no-collector.host.info``."""


def _info(name: str, doc: str, labels: dict[str, str]) -> Family:
    family = _Info("info", name, doc, tuple(labels))
    family.add(tuple(labels.values()))
    return family


def _component(name: str, doc: str, version: str) -> Family:
    """Return ``podman_system_<name>_version``, named and shaped as the Go exporter's (a
    gauge of 1 with label ``version``); no series when the version is unknown."""
    family = _Info("gauge", f"podman_system_{name}_version", f"{doc}; the value is always 1.",
                   ("version",))
    family.add((version,), 1.0 if version else None)
    return family


def host_families(host: HostInfo, now: float, info: bool = True) -> list[Metric]:
    """Return the host, store and version families at wall time ``now`` (the uptime is
    ``now`` minus the boot time); None values are left out, and so are the ``*_info``
    families and the ``podman_system_*_version`` ones (hostname, kernel, versions, paths)
    unless ``info``."""
    v = host.version
    uptime = None if host.boot_time is None else max(0.0, now - host.boot_time)
    families = (
        [
            _scalar(
                "podman_host_memory_total_bytes",
                "Total memory of the host.",
                host.mem_total_bytes,
                "bytes",
            ),
            _scalar(
                "podman_host_memory_free_bytes",
                "Free memory of the host.",
                host.mem_free_bytes,
                "bytes",
            ),
            _scalar(
                "podman_host_swap_total_bytes",
                "Total swap of the host.",
                host.swap_total_bytes,
                "bytes",
            ),
            _scalar(
                "podman_host_swap_free_bytes",
                "Free swap of the host.",
                host.swap_free_bytes,
                "bytes",
            ),
            _scalar("podman_host_cpus", "Number of CPUs of the host.", host.cpus),
            _scalar(
                "podman_host_uptime_seconds", "Uptime of the host.", uptime, "seconds"
            ),
            _info(
                "podman_host_info",
                "Podman host; the value is always 1.",
                {
                    "hostname": host.hostname,
                    "kernel": host.kernel,
                    "os": host.os,
                    "arch": host.arch,
                },
            ),
            _scalar(
                "podman_store_containers",
                "Number of containers in Podman's store.",
                host.store_containers,
            ),
            _scalar(
                "podman_store_images", "Number of images in Podman's store.", host.store_images
            ),
            _info(
                "podman_store_info",
                "Podman's storage; the value is always 1.",
                {
                    "graph_driver_name": host.graph_driver_name,
                    "graph_root": host.graph_root,
                    "run_root": host.run_root,
                },
            ),
            _info(
                "podman_version_info",
                "Podman's build; the value is always 1.",
                {
                    "version": v.version,
                    "go_version": v.go_version,
                    "git_commit": v.git_commit,
                    "os_arch": v.os_arch,
                },
            ),
            _component("api", "Podman's API version", host.api_version),
            _component("runtime", "Name and version of the OCI runtime", host.runtime_version),
            _component("conmon", "Version of conmon", host.conmon_version),
            _component("buildah", "Version of Buildah built into Podman", host.buildah_version),
        ]
    )
    return finish([f for f in families if info or not isinstance(f, _Info)])
