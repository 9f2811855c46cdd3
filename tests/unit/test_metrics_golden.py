"""Golden exposition files of representative snapshots, in classic text and OpenMetrics.

Regenerate with ``UPDATE_GOLDEN=1 pytest tests/unit/test_metrics_golden.py``;
otherwise the rendered bytes must equal the files byte for byte.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from golden import fleets
from podman_exporter.metrics import served_families
from podman_exporter.metrics.labels import clean, container_label_names
from support import require_tool

GOLDEN = Path(__file__).resolve().parents[1] / "golden"




class _Families:
    """What the exposition functions expect: an object whose collect() yields families."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


Render = Callable[[_Families], bytes]
FORMATS: dict[str, Render] = {"txt": generate_latest, "openmetrics.txt": generate_openmetrics}


def render(fleet: str, fmt: str) -> bytes:
    snapshot = fleets.FLEETS[fleet]()
    return FORMATS[fmt](_Families(served_families(snapshot, fleets.OPTIONS)))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("fleet", sorted(fleets.FLEETS))
def test_golden(fleet: str, fmt: str) -> None:
    path = GOLDEN / f"{fleet}.{fmt}"
    body = render(fleet, fmt)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(body)
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1"
    assert body == path.read_bytes(), f"{path} differs: rerun with UPDATE_GOLDEN=1 and review"


@pytest.mark.parametrize("fleet", sorted(fleets.FLEETS))
def test_promtool_accepts_classic_text(fleet: str) -> None:
    promtool = require_tool("promtool")
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=render(fleet, "txt"),
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def _series(families: Iterable[Metric]) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    return [(s.name, tuple(sorted(s.labels.items()))) for f in families for s in f.samples]


@pytest.mark.parametrize("fleet", sorted(fleets.FLEETS))
def test_both_formats_parse_to_the_built_series(fleet: str) -> None:
    snapshot = fleets.FLEETS[fleet]()
    built = served_families(snapshot, fleets.OPTIONS)
    expected = sorted(_series(built))
    text = list(parse_text(render(fleet, "txt").decode("utf-8")))
    openmetrics = list(parse_openmetrics(render(fleet, "openmetrics.txt").decode("utf-8")))  # type: ignore[no-untyped-call]
    assert sorted(_series(text)) == expected
    assert sorted(_series(openmetrics)) == expected
    assert len(set(expected)) == len(expected), "duplicate series"


def test_hostile_strings_round_trip() -> None:
    text = list(parse_text(render("hostile", "txt").decode("utf-8")))
    openmetrics = list(parse_openmetrics(render("hostile", "openmetrics.txt").decode("utf-8")))  # type: ignore[no-untyped-call]
    for families in (text, openmetrics):
        info = next(f for f in families if f.name in {"podman_container_info", "podman_container"})
        names = sorted(s.labels["name"] for s in info.samples)
        ids = {s.labels["id"] for s in info.samples}
        # Every hostile text is a container name; the second container named like the
        # first has its own id; the container listed twice appears once.
        assert names == sorted([clean(t) for t in fleets.HOSTILE_TEXTS] + [fleets.HOSTILE_TEXTS[0]])
        assert len(ids) == len(names)
        label = dict(container_label_names(fleets.OPTIONS.container_labels))["io.podman/tier"]
        tier = {s.labels["name"]: s.labels[label] for s in info.samples}
        for t in fleets.HOSTILE_TEXTS[1:]:
            assert tier[clean(t)] == clean(t)


def test_rest_golden_has_every_family() -> None:
    """The dashboards and alerts check their metric names against this golden."""
    body = (GOLDEN / "rest.txt").read_text(encoding="utf-8")
    names = {s.name for f in parse_text(body) for s in f.samples}
    every_name = {
        s.name
        for fleet in fleets.FLEETS.values()
        for f in served_families(fleet(), fleets.OPTIONS)
        for s in f.samples
    }
    assert every_name <= names
    documented = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
    for family in parse_text(body):
        sample_names = {s.name for s in family.samples}
        for name in sample_names:
            assert f"`{name}`" in documented, f"{name} is not in docs/metrics.md"
