"""The event families, against golden files (tests/golden/events*.txt).

Regenerate with ``UPDATE_GOLDEN=1 pytest tests/unit/test_events_metrics.py``; otherwise
the rendered bytes must equal the files byte for byte.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from types import MappingProxyType

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from podman_exporter.metrics.events import event_families
from podman_exporter.snapshot.events import ContainerEvents, EventsSnapshot
from podman_exporter.snapshot.model import Container, ContainerState
from support import require_tool

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
WEB, JOB, DB, NEW = ("3c1a5e2f9b7d" + "a" * 52, "5d0e71aa02c4" + "b" * 52,
                     "9f8e7d6c5b4a" + "c" * 52, "0123456789ab" + "d" * 52)
TWIN = "3c1a5e2f9b7d" + "e" * 52  # shares WEB's first 12 characters
ODD = "77aa00bb11cc" + "f" * 52
POD = "7e4b0c2d9a11" + "1" * 52

CONTAINERS = (
    Container(id=WEB, name="web", state=ContainerState.RUNNING),
    Container(id=TWIN, name="web", state=ContainerState.EXITED),  # same labels: first wins
    Container(id=JOB, name="job", state=ContainerState.RUNNING, pod_id=POD, pod_name="batch"),
    Container(id=DB, name="db", state=ContainerState.EXITED),
    Container(id=NEW, name="new", state=ContainerState.CREATED),  # no counts yet
    Container(id=ODD, name='quote"and\\back\nslash', state=ContainerState.RUNNING),
)


def connected() -> EventsSnapshot:
    return EventsSnapshot(
        containers=MappingProxyType({
            WEB: ContainerEvents(exits=0, restarts=0, oom_kills=0),
            TWIN: ContainerEvents(exits=99, restarts=99, oom_kills=99),
            JOB: ContainerEvents(exits=14, restarts=13, oom_kills=2),
            DB: ContainerEvents(exits=1, restarts=0, oom_kills=None),
            ODD: ContainerEvents(exits=2, restarts=1, oom_kills=None),
            "f" * 64: ContainerEvents(exits=5),  # counted but not listed: no series
        }),
        events_total=MappingProxyType({
            ("container", "start"): 40, ("container", "died"): 17,
            ("container", "restart"): 14, ("image", "pull"): 3, ("pod", "create"): 1}),
        stream_up=True,
        bad_events_total=2,
        version=123,
    )


CASES: dict[str, Callable[[], tuple[EventsSnapshot, tuple[Container, ...]]]] = {
    "events": lambda: (connected(), CONTAINERS),
    "events_down": lambda: (EventsSnapshot(), CONTAINERS),
}


class _Families:
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


FORMATS: dict[str, Callable[[_Families], bytes]] = {
    "txt": generate_latest, "openmetrics.txt": generate_openmetrics}


def render(case: str, fmt: str) -> bytes:
    return FORMATS[fmt](_Families(event_families(*CASES[case]())))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str, fmt: str) -> None:
    path = GOLDEN / f"{case}.{fmt}"
    body = render(case, fmt)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(body)
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1"
    assert body == path.read_bytes(), f"{path} differs: rerun with UPDATE_GOLDEN=1 and review"


@pytest.mark.parametrize("case", sorted(CASES))
def test_promtool_accepts_classic_text(case: str) -> None:
    promtool = require_tool("promtool")
    result = subprocess.run([promtool, "check", "metrics"], input=render(case, "txt"),
                            capture_output=True, check=False)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def samples(case: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    families = parse_text(render(case, "txt").decode())
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in families for s in f.samples}


def labels(name: str, pod_id: str = "", pod_name: str = "") -> tuple[tuple[str, str], ...]:
    by_name = {c.name: c for c in CONTAINERS}
    return tuple(sorted({"id": by_name[name].id[:12], "name": name, "pod_id": pod_id,
                         "pod_name": pod_name}.items()))


def test_values_and_absences() -> None:
    got = samples("events")
    assert got[("podman_container_exits_total", labels("web"))] == 0  # the first "web" wins
    assert got[("podman_container_restarts_total", labels("job", POD[:12], "batch"))] == 13
    assert got[("podman_container_oom_events_total", labels("job", POD[:12], "batch"))] == 2
    assert ("podman_container_oom_events_total", labels("db")) not in got  # unknown
    assert got[("podman_container_exits_total", labels("db"))] == 1
    assert not [k for k in got if ("name", "new") in k[1]]  # listed, not counted
    assert len([k for k in got if k[0] == "podman_container_exits_total"]) == 4
    assert got[("podman_events_total", (("action", "died"), ("type", "container")))] == 17
    assert got[("podman_exporter_event_stream_up", ())] == 1
    assert got[("podman_exporter_event_stream_bad_events_total", ())] == 2


def test_before_the_stream_connected_only_its_state() -> None:
    assert samples("events_down") == {("podman_exporter_event_stream_up", ()): 0,
                                      ("podman_exporter_event_stream_bad_events_total", ()): 0}
