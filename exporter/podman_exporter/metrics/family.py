"""One metric family being filled: skips absent values and repeated label sets.

A family keeps its series as label values -> value. The exposition renders them from
there (exposition/lines.py), without building a prometheus_client ``Sample`` per series;
``samples`` is built from them on first use, for anything else that reads the family.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.samples import Sample

from podman_exporter.metrics.labels import MAX_LABEL_VALUE_BYTES, clean, help_text

Kind = Literal["gauge", "counter", "info"]
_SAMPLE_SUFFIX = {"counter": "_total", "info": "_info"}


class SeriesMetric(Metric):
    """A prometheus_client family whose samples are its series, as ``add_metric`` would
    have made them (labels zipped with the label names, an info's value 1)."""

    def __init__(self, proto: Metric, labelnames: tuple[str, ...],
                 series: Mapping[tuple[str, ...], float],
                 const: tuple[tuple[str, str], ...] = ()) -> None:
        # ``proto`` was built (and its name validated) by prometheus_client's own class.
        self.name = proto.name
        self.documentation = proto.documentation
        self.unit = proto.unit
        self.type = proto.type
        self.labelnames = labelnames
        self.series = series
        self.const = const
        """Labels every series has with the same value (``endpoint``): (name, value)."""
        self.sample_name = proto.name + _SAMPLE_SUFFIX.get(proto.type, "")
        self._samples: list[Sample] | None = None

    @property
    def samples(self) -> list[Sample]:
        """Return the samples of the series, built once."""
        if self._samples is None:
            name, names, const = self.sample_name, self.labelnames, dict(self.const)
            self._samples = [Sample(name, {**const, **dict(zip(names, key, strict=False))},
                                    value)
                             for key, value in self.series.items()]
        return self._samples

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        raise AttributeError("a SeriesMetric's samples come from its series")


class Family:
    """A family under construction. ``name`` is the full series name
    (``..._total`` for counters, ``..._info`` for infos)."""

    def __init__(
        self, kind: Kind, name: str, doc: str, labels: Sequence[str], unit: str = ""
    ) -> None:
        self._series: dict[tuple[str, ...], float] = {}
        self._counter = kind == "counter"
        self._info = kind == "info"
        self._labels = tuple(labels)
        self._proto: Metric
        doc = help_text(doc)
        if kind == "gauge":
            self._proto = GaugeMetricFamily(name, doc, labels=labels, unit=unit)
        elif kind == "counter":
            self._proto = CounterMetricFamily(name, doc, labels=labels, unit=unit)
        else:
            self._proto = InfoMetricFamily(name.removesuffix("_info"), doc, labels=labels)

    def add(self, values: Sequence[str], value: float | None = 1.0) -> None:
        """Add one series; nothing when ``value`` is None, the label set is already
        present, or a counter value is negative or NaN (invalid for a counter)."""
        if value is None or (self._counter and not value >= 0):
            return
        key = tuple(values)
        joined = "".join(key)
        if not (joined.isascii() and len(joined) <= MAX_LABEL_VALUE_BYTES):
            key = tuple(map(clean, key))  # else clean() would return every value as is
        if key not in self._series:
            self._series[key] = 1 if self._info else value

    def metric(self) -> Metric | None:
        """Return the family, or None when it has no series."""
        return SeriesMetric(self._proto, self._labels, self._series) if self._series else None


def finish(families: Sequence[Family]) -> list[Metric]:
    """Return the families that have at least one series, in the given order."""
    return [m for f in families if (m := f.metric()) is not None]


def labelled(families: Sequence[Metric], name: str, value: str) -> list[Metric]:
    """Return the families with the label ``name="value"`` on every series, kept as a
    constant of each family (its series are not copied)."""
    out: list[Metric] = []
    for metric in families:
        if not isinstance(metric, SeriesMetric):
            raise TypeError(f"{metric.name}: only SeriesMetric families take a label")
        out.append(SeriesMetric(metric, metric.labelnames, metric.series,
                                ((name, value), *metric.const)))
    return out
