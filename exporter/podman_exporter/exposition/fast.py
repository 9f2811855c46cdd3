"""Both exposition formats in one pass, byte for byte what prometheus_client renders.

prometheus_client escapes and validates every label name and value of every sample
(about 30 µs a sample for OpenMetrics), which at thousands of containers costs more
than the collection's Podman calls. For the families this exporter builds (gauge,
counter, info; no timestamps, exemplars or ``_created`` samples; legacy names) the
sample lines of the classic text format and of OpenMetrics are the same, so they are
rendered once, with each distinct label set formatted once. Any other family is
rendered by prometheus_client itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from prometheus_client import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.utils import floatToGoString

_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_SAMPLE_SUFFIX = {"gauge": "", "counter": "_total", "info": "_info"}
_EOF = "# EOF\n"


class _Unusual(Exception):
    """A family outside the fast path: prometheus_client renders it."""


class _One:
    """A registry of one family, for the prometheus_client generators."""

    def __init__(self, metric: Metric) -> None:
        self._metric = metric

    def collect(self) -> Iterable[Metric]:
        return (self._metric,)


def _label_string(items: tuple[tuple[str, str], ...]) -> str:
    if not items:
        return ""
    parts = []
    for name, value in sorted(items):
        if not _NAME.match(name):
            raise _Unusual(name)
        escaped = value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
        parts.append(f'{name}="{escaped}"')
    return "{" + ",".join(parts) + "}"


class _Lines:
    """Formats sample lines, caching label sets and values across families."""

    def __init__(self) -> None:
        self._labels: dict[tuple[tuple[str, str], ...], str] = {}
        self._values: dict[float, str] = {}

    def of(self, metric: Metric) -> str:
        """Return the sample lines of a family; raises _Unusual outside the fast path."""
        suffix = _SAMPLE_SUFFIX.get(metric.type)
        if suffix is None or not _NAME.match(metric.name):
            raise _Unusual(metric.name)
        sample_name = metric.name + suffix
        labels, values = self._labels, self._values
        lines = []
        for s in metric.samples:
            if (s.name != sample_name or s.value is None or s.timestamp is not None
                    or s.exemplar or s.native_histogram):
                raise _Unusual(s.name)
            key = tuple(s.labels.items())
            label_string = labels.get(key)
            if label_string is None:
                label_string = labels[key] = _label_string(key)
            value = values.get(s.value) if s.value else None  # 0.0 == -0.0
            if value is None:
                value = floatToGoString(s.value)  # type: ignore[no-untyped-call]
                if s.value:
                    values[s.value] = value
            lines.append(f"{sample_name}{label_string} {value}\n")
        return "".join(lines)


def _headers(metric: Metric) -> tuple[str, str]:
    """Return the (text, OpenMetrics) HELP/TYPE/UNIT lines of a fast-path family."""
    name, kind, doc = metric.name, metric.type, metric.documentation
    text_doc = doc.replace("\\", r"\\").replace("\n", r"\n")
    om_doc = text_doc.replace('"', r"\"")
    text_name = name + _SAMPLE_SUFFIX[kind]
    text_kind = "gauge" if kind == "info" else kind
    text = f"# HELP {text_name} {text_doc}\n# TYPE {text_name} {text_kind}\n"
    om = f"# HELP {name} {om_doc}\n# TYPE {name} {kind}\n"
    if metric.unit:
        om += f"# UNIT {name} {metric.unit}\n"
    return text, om


def render_both(families: Sequence[Metric]) -> tuple[bytes, bytes]:
    """Return the classic text exposition and the OpenMetrics exposition of
    ``families``, equal to prometheus_client's ``generate_latest`` outputs."""
    text: list[str] = []
    om: list[str] = []
    lines = _Lines()
    for metric in families:
        try:
            samples = lines.of(metric)
        except _Unusual:
            one = _One(metric)
            text.append(generate_latest(one).decode("utf-8"))
            om.append(generate_openmetrics(one).decode("utf-8").removesuffix(_EOF))  # type: ignore[no-untyped-call]
            continue
        text_head, om_head = _headers(metric)
        text += (text_head, samples)
        om += (om_head, samples)
    om.append(_EOF)
    return "".join(text).encode("utf-8"), "".join(om).encode("utf-8")
