"""Helpers shared by the metric-family tests."""

from __future__ import annotations

import re

from prometheus_client.metrics_core import Metric

from podman_exporter.metrics import MetricOptions
from podman_exporter.snapshot.model import Container

OPTIONS = MetricOptions()
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
BUILT_IN = {"id", "name", "image", "image_id", "ports", "pod_id", "pod_name"}


def series(families: list[Metric], name: str) -> list[tuple[dict[str, str], float]]:
    """Return (labels, value) of every sample called ``name``."""
    return [(dict(s.labels), s.value) for f in families for s in f.samples if s.name == name]


def names(families: list[Metric]) -> set[str]:
    """Return the sample names in the families."""
    return {s.name for f in families for s in f.samples}


def container(cid: str, name: str, **kw: object) -> Container:
    """Return a Container; a one-character id is repeated to 64 characters."""
    return Container(id=cid * 64 if len(cid) == 1 else cid, name=name, **kw)  # type: ignore[arg-type]
