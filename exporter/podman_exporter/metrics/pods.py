"""Pod and volume families (libpod REST API only).

Sample of the exposition (classic text, HELP lines shortened)::

    # TYPE podman_pod_info gauge
    podman_pod_info{id="7e4b0c2d9a11",name="shop",infra_id="0b5c1e7f3a22"} 1.0
    # TYPE podman_pod_state gauge
    podman_pod_state{id="7e4b0c2d9a11",name="shop"} 4.0
    # TYPE podman_pod_containers gauge
    podman_pod_containers{id="7e4b0c2d9a11",name="shop"} 3.0
    # TYPE podman_pod_created_seconds gauge
    podman_pod_created_seconds{id="7e4b0c2d9a11",name="shop"} 1.699996399e+09
    # TYPE podman_volume_info gauge
    podman_volume_info{name="pgdata",driver="local",mount_point="/var/lib/containers/storage/volumes/pgdata/_data"} 1.0
    # TYPE podman_volume_created_seconds gauge
    podman_volume_created_seconds{name="pgdata"} 1.699992799e+09
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client.core import Metric

from podman_exporter.metrics.containers import whole_seconds
from podman_exporter.metrics.family import Family, finish
from podman_exporter.metrics.labels import clean, short_id
from podman_exporter.snapshot.model import Pod, Volume


def pod_families(pods: Sequence[Pod]) -> list[Metric]:
    """Return the pod families, series ordered by pod name then id."""
    info = Family(
        "info",
        "podman_pod_info",
        "Podman pod; the value is always 1.",
        ("id", "name", "infra_id"),
    )
    state = Family(
        "gauge",
        "podman_pod_state",
        "Pod state: -1 unknown, 0 created, 1 error, 2 exited, 3 paused, 4 running, "
        "5 degraded, 6 stopped.",
        ("id", "name"),
    )
    count = Family(
        "gauge", "podman_pod_containers", "Number of containers in the pod.", ("id", "name")
    )
    created = Family(
        "gauge",
        "podman_pod_created_seconds",
        "Pod creation time, Unix seconds.",
        ("id", "name"),
        "seconds",
    )
    seen: set[tuple[str, str]] = set()
    for pod in sorted(pods, key=lambda p: (p.name, p.id)):
        labels = (short_id(pod.id), pod.name)
        key = (clean(labels[0]), clean(labels[1]))
        if key in seen:  # same 12-char id and name as an earlier pod
            continue
        seen.add(key)
        info.add((*labels, short_id(pod.infra_id)))
        state.add(labels, pod.state.value)
        count.add(labels, pod.containers)
        created.add(labels, whole_seconds(pod.created))
    return finish([info, state, count, created])


def volume_families(volumes: Sequence[Volume]) -> list[Metric]:
    """Return the volume families, series ordered by volume name; one series per name."""
    info = Family(
        "info",
        "podman_volume_info",
        "Podman volume; the value is always 1.",
        ("name", "driver", "mount_point"),
    )
    created = Family(
        "gauge",
        "podman_volume_created_seconds",
        "Volume creation time, Unix seconds.",
        ("name",),
        "seconds",
    )
    seen: set[str] = set()
    for volume in sorted(volumes, key=lambda v: (v.name, v.driver, v.mount_point)):
        if clean(volume.name) in seen:
            continue
        seen.add(clean(volume.name))
        info.add((volume.name, volume.driver, volume.mount_point))
        created.add((volume.name,), whole_seconds(volume.created))
    return finish([info, created])
