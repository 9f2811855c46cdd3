"""The exposition's own writer (exposition/lines.py) against prometheus_client's: the same
bytes for the golden fleets and for any family metrics/family.py can build."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge, Metric
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.utils import floatToGoString

from golden import fleets
from podman_exporter.exposition.lines import EOF, go_float, render_both
from podman_exporter.exposition.render import render
from podman_exporter.metrics.family import Family, Kind, SeriesMetric, finish
from podman_exporter.metrics.labels import clean

GOLDEN = Path(__file__).resolve().parents[1] / "golden"




class Families:
    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> list[Metric]:
        return self.families


def library(families: Iterable[Metric]) -> tuple[bytes, bytes]:
    """Return prometheus_client's text and OpenMetrics (without ``# EOF``)."""
    registry = Families(families)
    openmetrics: bytes = generate_openmetrics(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), openmetrics.removesuffix(EOF.encode())


@pytest.mark.parametrize("fleet", sorted(fleets.FLEETS))
def test_the_served_bytes_are_the_golden_files(fleet: str) -> None:
    exposition = render(fleets.FLEETS[fleet](), fleets.OPTIONS)
    assert exposition.text.join() == (GOLDEN / f"{fleet}.txt").read_bytes()
    assert exposition.openmetrics.join() == (GOLDEN / f"{fleet}.openmetrics.txt").read_bytes()


# Families as the metric modules build them, from any names, label values and values.
NAME = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,12}", fullmatch=True).filter(
    lambda n: not n.startswith("__"))
TEXT = st.one_of(st.text(st.characters(exclude_categories=()), max_size=10),
                 st.text(st.sampled_from('ab\\"\n{}=, é'), max_size=6),
                 st.text(st.sampled_from("ab"), min_size=1020, max_size=1030))
VALUE = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                  st.floats(allow_nan=True, allow_infinity=True))


@st.composite
def families(draw: st.DrawFn) -> list[Family]:
    built = []
    for _ in range(draw(st.integers(1, 4))):
        kind: Kind = draw(st.sampled_from(["gauge", "counter", "info"]))
        labels = draw(st.lists(NAME, max_size=4, unique=True))
        name = draw(NAME) + {"counter": "_total", "info": "_info"}.get(kind, "")
        unit = draw(st.sampled_from(["", "bytes", "seconds"])) if kind != "info" else ""
        family = Family(kind, name, draw(TEXT), labels, unit)
        for _ in range(draw(st.integers(0, 5))):
            # sometimes fewer or more values than label names: prometheus_client zips them
            values = draw(st.lists(TEXT, min_size=max(0, len(labels) - 1),
                                   max_size=len(labels) + 1))
            family.add(values, draw(VALUE))
        built.append(family)
    return built


def encodable(families: list[Metric]) -> bool:
    try:
        library(families)
    except UnicodeEncodeError:  # a HELP text with a lone surrogate: both writers raise
        with pytest.raises(UnicodeEncodeError):
            render_both(families)
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(families())
def test_any_family_renders_as_prometheus_client_renders_it(built: list[Family]) -> None:
    metrics = finish(built)
    if encodable(metrics):
        assert render_both(metrics) == library(metrics)


def test_other_families_take_prometheus_client_s_own_writer() -> None:
    registry = CollectorRegistry(auto_describe=False)
    Counter("extra_events", "Events.", ["kind"], registry=registry).labels("a").inc(3)
    Gauge("extra:ratio", "A recording-rule style name.", registry=registry).set(0.5)
    odd = GaugeMetricFamily("odd", "Labels written twice.", labels=["b", "a"])
    odd.add_metric(["x", "y"], 1.5)
    family = Family("gauge", "colon:name", "A name with a colon.", ["a"])
    family.add(["v"], 2.0)
    metrics = [*registry.collect(), odd, *finish([family])]
    assert render_both(metrics) == library(metrics)


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70),
                 st.integers(999_000, 2**54), st.booleans()))
def test_values_are_written_as_prometheus_client_writes_them(value: float) -> None:
    assert go_float(value) == floatToGoString(value)  # type: ignore[no-untyped-call]


def test_zero_and_negative_zero_are_not_confused() -> None:
    family = Family("gauge", "z", "Zeros.", ["n"])
    for n, value in enumerate((0.0, -0.0, 0, -0.0, 0.0)):
        family.add([str(n)], value)
    metrics = finish([family])
    assert render_both(metrics) == library(metrics)
    assert b'z{n="1"} -0.0\n' in render_both(metrics)[0]


@pytest.mark.parametrize(("kind", "library_family"), [
    ("gauge", GaugeMetricFamily("g_bytes", "G.", labels=["a", "b"], unit="bytes")),
    ("counter", CounterMetricFamily("c_total", "C.", labels=["a", "b"], unit="")),
    ("info", InfoMetricFamily("i", "I.", labels=["a", "b"])),
])
def test_samples_are_those_prometheus_client_builds(
        kind: Kind, library_family: GaugeMetricFamily | CounterMetricFamily | InfoMetricFamily,
) -> None:
    name = {"gauge": "g", "counter": "c_total", "info": "i_info"}[kind]
    family = Family(kind, name, "", ["a", "b"], "bytes" if kind == "gauge" else "")
    rows = [(("x", "y"), 3), (("x", "z"), 2.5), (("x", "y"), 7)]  # the repeat is left out
    for values, value in rows:
        family.add(values, value)
        if values != ("x", "y") or value == 3:
            if isinstance(library_family, InfoMetricFamily):
                library_family.add_metric(values, {})
            else:
                library_family.add_metric(values, value)
    (metric,) = finish([family])
    assert isinstance(metric, SeriesMetric)
    assert metric.samples == library_family.samples
    assert (metric.name, metric.type, metric.unit) == \
        (library_family.name, library_family.type, library_family.unit)
    with pytest.raises(AttributeError):
        metric.samples = []


def test_label_values_are_cleaned_as_before() -> None:
    family = Family("gauge", "g", "G.", ["a", "b"])
    long, surrogate = "x" * 2000, "bad\ud800"
    family.add([long, surrogate], 1.0)
    family.add(["plain", "é"], 2.0)
    (metric,) = finish([family])
    assert isinstance(metric, SeriesMetric)
    assert list(metric.series) == [(clean(long), clean(surrogate)), ("plain", "é")]
    assert math.isclose(metric.series[("plain", "é")], 2.0)
