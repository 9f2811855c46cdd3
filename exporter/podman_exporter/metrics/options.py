"""Options of the metric families: what to export beyond the fixed set."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MetricOptions:
    """How the snapshot is turned into metric families."""

    container_labels: tuple[str, ...] = ()
    """Podman container label keys exported as ``label_<sanitised key>`` on
    ``podman_container_info`` (see ``labels.container_label_names``)."""
