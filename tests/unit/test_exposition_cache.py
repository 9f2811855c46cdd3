"""The exposition cache when rendering fails: counted, exported, never
frozen silently; and rendering in parts gives the same bytes as rendering at once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry, Counter, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from podman_exporter.exposition import render as render_module
from podman_exporter.exposition.lines import Chunk
from podman_exporter.exposition.render import ExpositionCache, render
from podman_exporter.metrics import served_families
from podman_exporter.metrics.options import MetricOptions
from podman_exporter.snapshot.model import Container, ContainerState
from podman_exporter.snapshot.snapshot import CollectorStatus, Snapshot

T0 = 1_700_000_000.0
MAX_AGE = 45.0


def snapshot(taken_at: float, name: str = "web") -> Snapshot:
    return Snapshot(
        taken_at=taken_at, up=True, api="varlink",
        containers=(Container(id="f" * 64, name=name, state=ContainerState.RUNNING),),
        collectors=(CollectorStatus("containers", True, 0.01),),
        last_success=taken_at,
    )


def samples(cache: ExpositionCache) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Return the samples of the text exposition by name (after checking OpenMetrics parses)."""
    exposition = cache.current
    assert exposition is not None
    list(parse_om(exposition.openmetrics.join().decode()))  # type: ignore[no-untyped-call]
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in parse_text(exposition.text.join().decode()):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def one(scrape: dict[str, list[tuple[dict[str, str], float]]], name: str) -> float | None:
    found = scrape.get(name, [])
    assert len(found) <= 1, found
    return found[0][1] if found else None


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def breakable(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, bool]]:
    """Make the rendering of Podman's series raise while ``state["broken"]``."""
    state = {"broken": False}
    real: Callable[[Snapshot, MetricOptions], list[Metric]] = render_module.podman_families

    def families(snap: Snapshot, options: MetricOptions) -> list[Metric]:
        if state["broken"]:
            raise OverflowError("a value the renderer cannot take")
        return real(snap, options)

    monkeypatch.setattr(render_module, "podman_families", families)
    yield state


def test_a_render_failure_is_counted_and_the_last_series_served_until_max_age(
        breakable: dict[str, bool], caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    cache = ExpositionCache(MetricOptions(), max_age=MAX_AGE, monotonic=clock)
    cache.publish(snapshot(T0, name="before"))
    good = samples(cache)
    assert one(good, "podman_exporter_publish_failures_total") == 0
    assert one(good, "podman_exporter_last_publish_success_timestamp_seconds") == T0
    assert good["podman_container_info"][0][0]["name"] == "before"

    breakable["broken"] = True
    clock.now += 15
    with caplog.at_level(logging.ERROR):
        cache.publish(snapshot(T0 + 15, name="after"))
    failed = samples(cache)
    # The exporter's own series are fresh, the failure is counted...
    assert one(failed, "podman_exporter_last_collection_timestamp_seconds") == T0 + 15
    assert one(failed, "podman_exporter_publish_failures_total") == 1
    # ...and Podman's series are the last rendered ones, with their age visible.
    assert failed["podman_container_info"] == good["podman_container_info"]
    assert one(failed, "podman_exporter_last_publish_success_timestamp_seconds") == T0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None  # traceback the first time

    clock.now += MAX_AGE  # 60 s after the last good rendering: older than max-age
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        cache.publish(snapshot(T0 + 60, name="after"))
    stale = samples(cache)
    assert "podman_container_info" not in stale  # right or absent, never stale
    assert one(stale, "podman_exporter_publish_failures_total") == 2
    assert one(stale, "podman_exporter_last_publish_success_timestamp_seconds") == T0
    assert one(stale, "podman_up") == 1
    assert [bool(r.exc_info) for r in caplog.records] == [False]  # one line, no traceback

    breakable["broken"] = False
    clock.now += 15
    cache.publish(snapshot(T0 + 75, name="after"))
    healed = samples(cache)
    assert healed["podman_container_info"][0][0]["name"] == "after"
    assert one(healed, "podman_exporter_publish_failures_total") == 2
    assert one(healed, "podman_exporter_last_publish_success_timestamp_seconds") == T0 + 75


def test_a_first_collection_that_cannot_be_rendered_still_serves_the_exporter_series(
        breakable: dict[str, bool]) -> None:
    breakable["broken"] = True
    cache = ExpositionCache(MetricOptions())
    cache.publish(snapshot(T0))
    scrape = samples(cache)
    assert one(scrape, "podman_exporter_publish_failures_total") == 1
    assert "podman_exporter_last_publish_success_timestamp_seconds" not in scrape
    assert "podman_container_info" not in scrape


def test_rendering_in_parts_equals_rendering_at_once() -> None:
    registry = CollectorRegistry(auto_describe=False)
    Counter("extra_events", "An exporter-side family beside Podman's.", registry=registry).inc(3)
    snap = snapshot(T0)
    exposition = render(snap, MetricOptions(), [registry])

    class Families:
        def __init__(self, families: list[Metric]) -> None:
            self.families = families

        def collect(self) -> list[Metric]:
            return self.families

    whole = Families([*served_families(snap, MetricOptions()), *registry.collect()])
    assert exposition.text.join() == generate_latest(whole)  # type: ignore[arg-type]
    assert exposition.openmetrics.join() == generate_openmetrics(whole)  # type: ignore[arg-type, no-untyped-call]


def test_publications_do_not_wait_for_the_join_and_share_the_next_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The join runs in a thread of its own: a publication returns while a join is under
    way, the publications made meanwhile are joined together once, and a reader always
    gets every publication that returned."""
    real = render_module.arrange_chunks
    entered, release = threading.Event(), threading.Event()
    joins: list[tuple[str, int]] = []
    """(thread, parts) of every join."""

    def join(parts: Sequence[Sequence[Chunk]]) -> tuple[list[bytes], list[bytes]]:
        joins.append((threading.current_thread().name, len(parts)))
        if len(joins) == 1:
            entered.set()
            assert release.wait(10)
        return real(parts)

    monkeypatch.setattr(render_module, "arrange_chunks", join)
    cache = ExpositionCache(MetricOptions())
    cache.publish(replace(snapshot(T0), endpoint="a"))
    assert entered.wait(10)  # the first join holds on, in its own thread
    cache.publish(replace(snapshot(T0), endpoint="b"))  # returns though the join holds on
    cache.publish(replace(snapshot(T0), endpoint="c"))
    assert len(joins) == 1
    release.set()
    current = cache.current  # waits for the join under way, then joins b and c
    assert current is not None and sorted(current.snapshots) == ["a", "b", "c"]
    wait_for_join_threads()
    assert joins[0][0] == "exposition-join"
    assert len(joins) == 2  # b and c joined once, by the reader or by the thread
    assert cache.current is current  # nothing new: no join


def test_a_forgotten_endpoint_leaves_the_next_read() -> None:
    cache = ExpositionCache(MetricOptions())
    cache.publish(replace(snapshot(T0), endpoint="a"))
    cache.publish(replace(snapshot(T0), endpoint="b"))
    cache.forget("a")
    current = cache.current
    assert current is not None and list(current.snapshots) == ["b"]
    assert {labels["endpoint"] for labels, _ in samples(cache)["podman_up"]} == {"b"}


def wait_for_join_threads() -> None:
    for thread in threading.enumerate():
        if thread.name == "exposition-join":
            thread.join(10)
            assert not thread.is_alive()


def test_requests_are_served_the_last_arrangement_while_the_next_is_made(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``serving`` never waits: during a round it is the previous arrangement, after it
    the new one; with no round under way and a publication left out, it is None (the
    reader arranges through ``current``)."""
    real = render_module.arrange_chunks
    hold = threading.Event()
    entered, release = threading.Event(), threading.Event()

    def arrange(parts: Sequence[Sequence[Chunk]]) -> tuple[list[bytes], list[bytes]]:
        if hold.is_set():
            entered.set()
            assert release.wait(10)
        return real(parts)

    monkeypatch.setattr(render_module, "arrange_chunks", arrange)
    cache = ExpositionCache(MetricOptions())
    assert cache.serving is None
    cache.publish(replace(snapshot(T0), endpoint="a"))
    first = cache.current
    assert first is not None and cache.serving is first
    hold.set()
    cache.publish(replace(snapshot(T0), endpoint="b"))
    assert entered.wait(10)  # the round with b holds on in the joining thread
    assert cache.serving is first  # answered at once, without b yet
    release.set()
    wait_for_join_threads()
    served = cache.serving
    assert served is not None and sorted(served.snapshots) == ["a", "b"]
