"""Options of the metric families: what to export beyond the fixed set."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field

from podman_exporter import __version__


@dataclass(frozen=True, slots=True)
class MetricOptions:
    """How the snapshot is turned into metric families."""

    container_labels: tuple[str, ...] = ()
    """Podman container label keys exported on ``podman_container_info``, named as
    ``container_label_style`` says (see ``labels.container_label_names``)."""
    container_label_style: str = "prefixed"
    """``prefixed``: ``label_<sanitised key>``; ``go``: the sanitised key itself, as the Go
    exporter names them (``--collector.container.labels.style``)."""
    host_info: bool = True
    """Export the host, store, version and component version families
    (``--collector.host.info``)."""
    version: str = __version__
    """``version`` label of ``podman_exporter_build_info``."""
    python_version: str = field(default_factory=platform.python_version)
    """``python_version`` label of ``podman_exporter_build_info``."""
