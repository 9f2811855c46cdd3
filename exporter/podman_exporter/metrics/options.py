"""Options of the metric families: what to export beyond the fixed set."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field

from podman_exporter import __version__


@dataclass(frozen=True, slots=True)
class MetricOptions:
    """How the snapshot is turned into metric families."""

    container_labels: tuple[str, ...] = ()
    """Podman container label keys exported as ``label_<sanitised key>`` on
    ``podman_container_info`` (see ``labels.container_label_names``)."""
    host_info: bool = True
    """Export the host, store and version info families (``--collector.host.info``)."""
    version: str = __version__
    """``version`` label of ``podman_exporter_build_info``."""
    python_version: str = field(default_factory=platform.python_version)
    """``python_version`` label of ``podman_exporter_build_info``."""
