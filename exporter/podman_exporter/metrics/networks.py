"""Network family (libpod REST API only).

Sample of the exposition (classic text, HELP lines shortened)::

    # TYPE podman_network_info gauge
    podman_network_info{name="podman",id="2f259bab93aa",driver="bridge",interface="podman0",labels=""} 1.0
    podman_network_info{name="shop",id="59368ade5a37",driver="bridge",interface="podman1",labels="env=prod,team=a"} 1.0
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prometheus_client.core import Metric

from podman_exporter.metrics.family import Family, finish
from podman_exporter.metrics.labels import clean, short_id
from podman_exporter.snapshot.model import Network


def labels_text(labels: Mapping[str, str]) -> str:
    """Return a network's labels as the Go exporter writes them, ``key=value`` joined by
    ``,``, in key order (the Go exporter's order is its map's, random)."""
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def network_families(networks: Sequence[Network]) -> list[Metric]:
    """Return the network family, series ordered by network name then id; one series per
    name and id."""
    info = Family(
        "info",
        "podman_network_info",
        "Podman network; the value is always 1.",
        ("name", "id", "driver", "interface", "labels"),
    )
    seen: set[tuple[str, str]] = set()
    for network in sorted(networks, key=lambda n: (n.name, n.id)):
        key = (clean(network.name), clean(short_id(network.id)))
        if key in seen:
            continue
        seen.add(key)
        info.add((network.name, short_id(network.id), network.driver, network.interface,
                  labels_text(network.labels)))
    return finish([info])
