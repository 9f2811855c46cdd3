"""Metric families -> text and OpenMetrics bytes, each sample line formatted once.

For the families of metrics/family.py (gauges, counters and infos with plain names),
a sample line is the same in both formats, so it is formatted once and shared; only
the HELP/TYPE/UNIT lines differ. A container's label text is formatted once and shared
by every family with the same label names. The bytes equal what prometheus_client's
``generate_latest`` of either format makes (tests/unit/test_render_lines.py holds them
to it); any other family (the process, platform and GC collectors) is rendered by
prometheus_client itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prometheus_client import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from podman_exporter.metrics.family import SeriesMetric

EOF = "# EOF\n"
_PLAIN_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
"""A metric or label name both formats write as it is (prometheus_client's OpenMetrics
writer turns a ``:`` of a sample name into ``_``: such names take the library's path)."""
_EXACT = 2**53
"""Integers below this are exact as floats: their text is made from their digits."""

def go_float(value: float) -> str:
    """Return ``value`` as prometheus_client's ``floatToGoString`` writes it."""
    if type(value) is int and 0 < value < _EXACT:  # byte counts: no float detour
        if value < 1_000_000:
            return f"{value}.0"
        s = str(value)
        digits = s.rstrip("0")
        return f"{digits[0]}.{digits[1:]}e+{len(s) - 1:02d}" if len(digits) > 1 \
            else f"{digits}e+{len(s) - 1:02d}"
    d = float(value)
    s = repr(d)
    dot = s.find(".")
    if dot > 6 and d > 0:  # Go switches to exponents sooner than Python
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1:]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    if dot < 0 and s[-1] in "fn":  # inf, -inf, nan
        return "+Inf" if d > 0 else "-Inf" if d < 0 else "NaN"
    return s


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _label_text(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    """Return the ``{name="value",...}`` of one series ("" without labels): names
    sorted, values escaped, as both of prometheus_client's writers do."""
    labels = dict(zip(names, values, strict=False))
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items())) + "}"


class _Labels:
    """Formats the label text of the series of families with the same label names (and
    the same constant labels, written into the template once).

    Texts are found by the identity of the label values: the metric modules hand every
    family of a container the same tuple, and the families (so the tuples) live for the
    whole rendering, so an id stands for one tuple; an equal tuple of another identity
    only costs its text again.
    """

    def __init__(self, names: tuple[str, ...], const: tuple[tuple[str, str], ...] = ()) -> None:
        self.names = names
        self.const = const
        every = [(n, None) for n in names] + [(n, v) for n, v in const]
        placed = sorted(range(len(every)), key=lambda i: every[i][0])
        self.order = [i for i in placed if i < len(names)]
        self.template = "{" + ",".join(
            f'{every[i][0]}="%s"' if i < len(names)
            else f'{every[i][0]}="{_escape(every[i][1] or "").replace("%", "%%")}"'
            for i in placed) + "}"
        self.known: dict[int, str] = {}

    def text(self, values: tuple[str, ...]) -> str:
        """Return the label text of one series (as _label_text)."""
        if len(values) != len(self.names) or not (values or self.const):
            return _label_text(self.names + tuple(n for n, _ in self.const),
                               values + tuple(v for _, v in self.const))
        joined = "".join(values)
        ordered = [values[i] for i in self.order]
        if "\\" in joined or "\n" in joined or '"' in joined:
            ordered = [_escape(v) for v in ordered]
        text = self.known[id(values)] = self.template % tuple(ordered)
        return text


class Formatted:
    """What the families of one rendering share: label texts by label names, and the
    text of each value already written."""

    def __init__(self) -> None:
        self.labels: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], _Labels] = {}
        self.values: dict[float, str] = {}


def _shared(metric: Metric) -> SeriesMetric | None:
    """Return ``metric`` when its sample lines can be formatted here, else None."""
    if not isinstance(metric, SeriesMetric) or not _PLAIN_NAME.match(metric.sample_name):
        return None
    names = metric.labelnames + tuple(n for n, _ in metric.const)
    if not all(_PLAIN_NAME.match(n) for n in names) or len(set(names)) != len(names):
        return None
    return metric


def sample_lines(metric: SeriesMetric, shared: Formatted) -> str:
    """Return the sample lines of a family, formatting through (and into) ``shared``."""
    key = (metric.labelnames, metric.const)
    labels = shared.labels.get(key)
    if labels is None:
        labels = shared.labels[key] = _Labels(metric.labelnames, metric.const)
    known, label_text, written = labels.known, labels.text, shared.values
    prefix = metric.sample_name
    lines = []
    for values, value in metric.series.items():
        text = known.get(id(values)) or label_text(values)
        number = written.get(value) if value else None  # 0.0 and -0.0 are equal keys
        if number is None:
            number = go_float(value)
            if value:
                written[value] = number
        lines.append(f"{prefix}{text} {number}\n")
    return "".join(lines)


def text_header(metric: Metric) -> str:
    """Return the HELP and TYPE lines of the classic text format."""
    name, kind = metric.name, metric.type
    if kind == "counter":
        name += "_total"
    elif kind == "info":
        name, kind = name + "_info", "gauge"
    doc = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {doc}\n# TYPE {name} {kind}\n"


def openmetrics_header(metric: Metric) -> str:
    """Return the HELP, TYPE and (with a unit) UNIT lines of OpenMetrics."""
    name = metric.name
    doc = metric.documentation.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    unit = f"# UNIT {name} {metric.unit}\n" if metric.unit else ""
    return f"# HELP {name} {doc}\n# TYPE {name} {metric.type}\n{unit}"


class _One:
    """A registry of one family, for prometheus_client's writers."""

    def __init__(self, metric: Metric) -> None:
        self._metric = metric

    def collect(self) -> Iterable[Metric]:
        return (self._metric,)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One family rendered: its name, its header in both formats, its sample lines (the
    same in both). A family prometheus_client renders (``whole``) has all of its text in
    the headers and no separate lines: it cannot be merged with another part's."""

    name: str
    text_header: bytes
    openmetrics_header: bytes
    lines: bytes = b""
    whole: bool = False


def render_chunks(families: Sequence[Metric]) -> list[Chunk]:
    """Return the families rendered, one Chunk each, in order, encoded once here (the
    joins only copy bytes); raise as prometheus_client would (UnicodeEncodeError for a
    lone surrogate...)."""
    formatted = Formatted()
    chunks = []
    for metric in families:
        shared = _shared(metric)
        if shared is not None:
            chunks.append(Chunk(shared.name, text_header(shared).encode(),
                                openmetrics_header(shared).encode(),
                                sample_lines(shared, formatted).encode()))
        else:
            one = _One(metric)
            om: bytes = generate_openmetrics(one)  # type: ignore[no-untyped-call]
            chunks.append(Chunk(metric.name, generate_latest(one),
                                om.removesuffix(EOF.encode()), whole=True))
    return chunks


def arrange_chunks(parts: Sequence[Sequence[Chunk]]) -> tuple[list[bytes], list[bytes]]:
    """Return the pieces of the classic text and of the OpenMetrics (without ``# EOF``)
    of several rendered parts (each joined gives the body; no bytes are copied here),
    each family once: its header, then its lines from every part that has it, in the
    order the families first appear."""
    by_name: dict[tuple[str, int], list[Chunk]] = {}
    for part in parts:
        seen: dict[str, int] = {}
        for chunk in part:  # a name twice in one part: two families, as written
            nth = seen[chunk.name] = seen.get(chunk.name, -1) + 1
            by_name.setdefault((chunk.name, nth), []).append(chunk)
    text: list[bytes] = []
    openmetrics: list[bytes] = []
    for chunks in by_name.values():
        first = chunks[0]
        if first.whole:
            text += (c.text_header for c in chunks)
            openmetrics += (c.openmetrics_header for c in chunks)
            continue
        lines = [c.lines for c in chunks]
        text.append(first.text_header)
        text += lines
        openmetrics.append(first.openmetrics_header)
        openmetrics += lines
    return text, openmetrics


def render_both(families: Sequence[Metric]) -> tuple[bytes, bytes]:
    """Return the classic text and the OpenMetrics (without ``# EOF``) of ``families``;
    raise as prometheus_client would (UnicodeEncodeError for a lone surrogate...)."""
    text, openmetrics = arrange_chunks([render_chunks(families)])
    return b"".join(text), b"".join(openmetrics)
