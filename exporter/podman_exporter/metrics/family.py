"""One metric family being filled: skips absent values and repeated label sets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)

from podman_exporter.metrics.labels import clean, help_text

Kind = Literal["gauge", "counter", "info"]


class Family:
    """A family under construction. ``name`` is the full series name
    (``..._total`` for counters, ``..._info`` for infos)."""

    def __init__(
        self, kind: Kind, name: str, doc: str, labels: Sequence[str], unit: str = ""
    ) -> None:
        self._seen: set[tuple[str, ...]] = set()
        self._counter = kind == "counter"
        self._metric: GaugeMetricFamily | CounterMetricFamily | InfoMetricFamily
        doc = help_text(doc)
        if kind == "gauge":
            self._metric = GaugeMetricFamily(name, doc, labels=labels, unit=unit)
        elif kind == "counter":
            self._metric = CounterMetricFamily(name, doc, labels=labels, unit=unit)
        else:
            self._metric = InfoMetricFamily(name.removesuffix("_info"), doc, labels=labels)

    def add(self, values: Sequence[str], value: float | None = 1.0) -> None:
        """Add one series; nothing when ``value`` is None, the label set is already
        present, or a counter value is negative or NaN (invalid for a counter)."""
        if value is None or (self._counter and not value >= 0):
            return
        key = tuple(clean(v) for v in values)
        if key in self._seen:
            return
        self._seen.add(key)
        if isinstance(self._metric, InfoMetricFamily):
            self._metric.add_metric(key, {})
        else:
            self._metric.add_metric(key, value)

    def metric(self) -> Metric | None:
        """Return the family, or None when it has no series."""
        return self._metric if self._metric.samples else None


def finish(families: Sequence[Family]) -> list[Metric]:
    """Return the families that have at least one series, in the given order."""
    return [m for f in families if (m := f.metric()) is not None]
