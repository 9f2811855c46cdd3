"""The collection loop: partial failure, staleness, podman_up, prerequisites."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest

from podman_exporter.collect.collectors import COLLECTORS
from podman_exporter.collect.loop import CollectionLoop
from podman_exporter.config import Config
from podman_exporter.exposition.render import render
from podman_exporter.metrics.host import host_families
from podman_exporter.metrics.options import MetricOptions
from podman_exporter.podman.backend import (
    PartialFailure,
    PodmanBackend,
    PodmanUnavailable,
    Unsupported,
)
from podman_exporter.podman.corrections import uptime_ranges
from podman_exporter.podman.select import BackendSelector
from podman_exporter.snapshot.events import EventsSnapshot
from podman_exporter.snapshot.model import (
    Batch,
    Container,
    ContainerSize,
    ContainerState,
    ContainerStats,
    HostInfo,
    Image,
    Network,
    Pod,
    Volume,
)
from podman_exporter.snapshot.snapshot import Snapshot


@dataclass
class FleetBackend:
    """A tiny in-memory Podman whose calls can be made to fail one by one."""

    containers: list[Container] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)
    partial_stats: bool = False
    api: str = "varlink"
    stats_asked: list[Sequence[str]] = field(default_factory=list)
    sizes_asked: int = 0
    hosts_asked: int = 0
    uptime_text: str = "0h 12m 20.00s"

    def _check(self, call: str) -> None:
        if call in self.failing or "all" in self.failing:
            raise PodmanUnavailable(f"{call} failed")

    def ping(self) -> None:
        self._check("ping")

    def list_containers(self) -> Batch[Container]:
        self._check("containers")
        return Batch(tuple(self.containers), bad=1)

    def container_stats(self, ids: Sequence[str]) -> Batch[ContainerStats]:
        self._check("stats")
        self.stats_asked.append(list(ids))
        batch = Batch(tuple(ContainerStats(id=i, cpu_seconds=1.0) for i in ids))
        if self.partial_stats:
            raise PartialFailure("one missing", Batch(batch.items[:1]))
        return batch

    def container_sizes(self) -> Batch[ContainerSize]:
        self._check("sizes")
        self.sizes_asked += 1
        return Batch(tuple(ContainerSize(c.id, 1000, 10) for c in self.containers))

    def list_images(self) -> Batch[Image]:
        self._check("images")
        return Batch((Image(id="sha256:aa"),))

    def host_info(self) -> Batch[HostInfo]:
        self._check("host")
        self.hosts_asked += 1
        return Batch((HostInfo(hostname="h", store_containers=len(self.containers),
                               store_images=1,
                               uptime_ranges=uptime_ranges(self.uptime_text, "4.3.1")),))

    def list_pods(self) -> Batch[Pod]:
        raise Unsupported("no pods")

    def list_volumes(self) -> Batch[Volume]:
        raise Unsupported("no volumes")

    def list_networks(self) -> Batch[Network]:
        raise Unsupported("no networks")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


SLOW = {spec.name: spec.interval for spec in COLLECTORS if spec.interval is not None}


def make_loop(backend: FleetBackend, clock: Clock, published: list[Snapshot],
              wall: Callable[[], float] | None = None) -> CollectionLoop:
    def source() -> PodmanBackend:
        if "connect" in backend.failing:
            raise PodmanUnavailable("no socket")
        return backend

    return CollectionLoop(backend=source, collectors=COLLECTORS, interval=15, max_age=45,
                          publish=published.append, clock=wall or clock, monotonic=clock,
                          intervals=SLOW)


def fleet() -> FleetBackend:
    return FleetBackend(containers=[
        Container(id="a" * 64, name="web", state=ContainerState.RUNNING),
        Container(id="b" * 64, name="db", state=ContainerState.RUNNING),
        Container(id="c" * 64, name="old", state=ContainerState.EXITED),
        Container(id="d" * 64, name="nap", state=ContainerState.PAUSED),
    ])


def test_full_collection_fills_every_supported_section() -> None:
    backend, published = fleet(), []
    snap = make_loop(backend, Clock(), published).collect_once()
    assert published == [snap]
    assert snap.up and snap.api == "varlink"
    assert snap.containers is not None and len(snap.containers) == 4
    assert snap.stats is not None and set(snap.stats) == {"a" * 64, "b" * 64, "d" * 64}
    assert backend.stats_asked == [["a" * 64, "b" * 64, "d" * 64]]  # running and paused
    assert snap.sizes is not None and len(snap.sizes) == 4
    assert snap.pods is None and snap.volumes is None  # unsupported: absent, not failed
    assert {c.name for c in snap.collectors} == {"containers", "stats", "sizes", "images",
                                                 "host"}
    assert all(c.success for c in snap.collectors)
    bad = {c.name: c.bad_records_total for c in snap.collectors}
    assert bad["containers"] == 1 and bad["images"] == 0
    assert snap.last_success == 1000.0


def test_failed_collector_keeps_the_others_and_its_own_last_value() -> None:
    backend, clock, published = fleet(), Clock(), []
    loop = make_loop(backend, clock, published)
    loop.collect_once()
    backend.failing = {"images"}
    clock.now += 15
    snap = loop.collect_once()
    status = {c.name: c for c in snap.collectors}
    assert not status["images"].success and status["images"].errors_total == 1
    assert status["containers"].success and status["host"].success
    assert snap.images is not None  # last good value, still younger than max-age
    assert snap.up
    assert snap.last_success == 1000.0  # not every collector succeeded
    clock.now += 31  # the images section is now 46 s old: past max-age
    snap = loop.collect_once()
    assert snap.images is None and snap.containers is not None


def test_unreachable_podman_drops_series_after_max_age_and_recovers() -> None:
    backend, clock, published = fleet(), Clock(), []
    loop = make_loop(backend, clock, published)
    loop.collect_once()
    backend.failing = {"connect"}
    clock.now += 15
    snap = loop.collect_once()
    assert not snap.up and snap.containers is not None  # within max-age: last data kept
    assert all(not c.success for c in snap.collectors)
    clock.now += 40
    snap = loop.collect_once()
    assert not snap.up
    assert snap.containers is None and snap.stats is None and snap.images is None
    # Collected 55 s ago: within their 300 s interval + max-age.
    assert snap.sizes is not None and snap.host is not None
    backend.failing = set()
    clock.now += 15
    snap = loop.collect_once()
    assert snap.up and snap.containers is not None and snap.last_success == clock.now
    assert {c.name: c.errors_total for c in snap.collectors}["host"] == 2


def test_slow_collector_runs_on_its_own_interval() -> None:
    backend, clock, published = fleet(), Clock(), []
    loop = make_loop(backend, clock, published)
    loop.collect_once()
    for _ in range(19):  # 285 s later: not yet due
        clock.now += 15
        snap = loop.collect_once()
    assert backend.sizes_asked == 1
    status = {c.name: c for c in snap.collectors}["sizes"]
    assert status.success and status.errors_total == 0  # the last run's result, kept
    assert snap.sizes is not None
    clock.now += 15  # 300 s after the first run
    loop.collect_once()
    assert backend.sizes_asked == 2


def test_failed_slow_collector_is_retried_at_the_next_collection() -> None:
    backend, clock, published = fleet(), Clock(), []
    backend.failing = {"sizes"}
    loop = make_loop(backend, clock, published)
    snap = loop.collect_once()
    assert snap.sizes is None
    backend.failing = set()
    clock.now += 15
    snap = loop.collect_once()
    assert backend.sizes_asked == 1 and snap.sizes is not None
    assert {c.name: c.errors_total for c in snap.collectors}["sizes"] == 1


def _uptime(snap: Snapshot) -> float | None:
    """Return the exported podman_host_uptime_seconds value of ``snap``, or None."""
    assert snap.host is not None
    values = [s.value for f in host_families(snap.host, snap.taken_at) for s in f.samples
              if s.name == "podman_host_uptime_seconds"]
    return values[0] if values else None


def test_host_uptime_waits_for_an_unambiguous_reading_asking_info_until_then() -> None:
    backend, clock, published = fleet(), Clock(), []
    backend.uptime_text = "0h 12m 30.00s"  # 12 m 30 s or 11 m 30 s (Podman 4.3 rounds)
    loop = make_loop(backend, clock, published, wall=time.time)
    snap = loop.collect_once()
    assert snap.host is not None and snap.host.boot_time is None and _uptime(snap) is None
    clock.now += 15
    backend.uptime_text = "0h 12m 45.00s"  # 11 m 45 s: one candidate only
    snap = loop.collect_once()
    assert backend.hosts_asked == 2  # asked again before its interval: the boot was unknown
    uptime = _uptime(snap)
    assert uptime is not None and 704 <= uptime <= 707  # 705 s plus the time between
    clock.now += 15
    loop.collect_once()
    assert backend.hosts_asked == 2  # known now: info waits for its interval


def test_host_uptime_is_measured_from_the_boot_time_between_info_calls(
        monkeypatch: pytest.MonkeyPatch) -> None:
    backend, clock, published = fleet(), Clock(), []
    wall = [5000.0]
    monkeypatch.setattr(time, "time", lambda: wall[0])  # the host fetch's clock too
    loop = make_loop(backend, clock, published, wall=lambda: wall[0])
    backend.uptime_text = "0h 11m 45.00s"
    first = loop.collect_once()
    assert first.host is not None and first.host.boot_time is not None
    for _ in range(10):
        clock.now += 15
        wall[0] += 15
        snap = loop.collect_once()
    assert backend.hosts_asked == 1
    before = _uptime(first)
    assert before is not None and _uptime(snap) == pytest.approx(before + 150)


def test_host_is_asked_again_when_the_listings_disagree_with_its_store_counts() -> None:
    backend, clock, published = fleet(), Clock(), []
    loop = make_loop(backend, clock, published)
    loop.collect_once()
    clock.now += 15
    loop.collect_once()
    assert backend.hosts_asked == 1
    backend.containers.append(Container(id="e" * 64, name="new", state=ContainerState.CREATED))
    clock.now += 15
    snap = loop.collect_once()
    assert backend.hosts_asked == 2
    assert snap.host is not None and snap.host.store_containers == 5


def test_slow_collectors_run_at_the_first_collection_after_an_outage() -> None:
    backend, clock, published = fleet(), Clock(), []
    loop = make_loop(backend, clock, published)
    loop.collect_once()
    backend.failing = {"connect"}
    clock.now += 15
    loop.collect_once()
    backend.failing = set()
    clock.now += 15
    loop.collect_once()
    assert backend.hosts_asked == 2 and backend.sizes_asked == 2
    clock.now += 15
    loop.collect_once()
    assert backend.hosts_asked == 2 and backend.sizes_asked == 2


def test_stats_are_skipped_when_containers_fail() -> None:
    backend, published = fleet(), []
    backend.failing = {"containers"}
    snap = make_loop(backend, Clock(), published).collect_once()
    status = {c.name: c for c in snap.collectors}
    assert not status["stats"].success
    assert backend.stats_asked == []
    assert snap.stats is None


def test_partial_stats_are_served_and_marked_failed() -> None:
    backend, published = fleet(), []
    backend.partial_stats = True
    snap = make_loop(backend, Clock(), published).collect_once()
    status = {c.name: c for c in snap.collectors}
    assert not status["stats"].success and status["stats"].errors_total == 1
    assert snap.stats is not None and list(snap.stats) == ["a" * 64]


def test_admin_actions_show_in_next_snapshot() -> None:
    backend, published = fleet(), []
    loop = make_loop(backend, Clock(), published)
    loop.count_admin_action("containers_prune", "success")
    loop.count_admin_action("containers_prune", "success")
    snap = loop.collect_once()
    assert snap.admin_actions[("containers_prune", "success")] == 2


def test_trigger_during_a_collection_collects_again_afterwards() -> None:
    import threading

    backend, published = fleet(), []
    gate, entered = threading.Event(), threading.Event()
    original = backend.list_images

    def slow_images() -> Batch[Image]:
        entered.set()
        gate.wait(10)
        return original()

    backend.list_images = slow_images  # type: ignore[method-assign]
    loop = make_loop(backend, Clock(), published)
    first = threading.Thread(target=loop._scheduled)
    first.start()
    assert entered.wait(10)
    loop.trigger()  # an admin action happened while the collection was running
    gate.set()
    first.join(10)
    for _ in range(100):
        if len(published) == 2:
            break
        threading.Event().wait(0.05)
    assert len(published) == 2


def test_trigger_when_idle_collects_once() -> None:
    import threading

    backend, published = fleet(), []
    loop = make_loop(backend, Clock(), published)
    loop.trigger()
    for _ in range(100):
        if published:
            break
        threading.Event().wait(0.05)
    threading.Event().wait(0.2)
    assert len(published) == 1


def test_slow_collector_not_due_reports_failure_while_podman_answers_nothing() -> None:
    backend, clock, published = fleet(), Clock(), []
    loop = make_loop(backend, clock, published)
    loop.collect_once()
    backend.failing = {"all"}  # the socket accepts, every call fails
    clock.now += 15
    snap = loop.collect_once()
    status = {c.name: c for c in snap.collectors}
    assert not snap.up and not any(c.success for c in snap.collectors)
    assert status["sizes"].errors_total == 0  # it did not run
    assert backend.sizes_asked == 1 and snap.sizes is not None  # its data is still fresh
    backend.failing = {"images"}
    clock.now += 15
    status = {c.name: c for c in loop.collect_once().collectors}
    assert status["sizes"].success and not status["images"].success


@pytest.mark.parametrize("url", ["tcp://localhost", "http://localhost:8080", "podman.sock",
                                 "unix://tmp/x"])
def test_unusable_address_is_podman_down_not_an_escape(url: str) -> None:
    # the CLI refuses these; anything that still gets through costs podman_up, not the loop
    selector = BackendSelector(Config(podman_api="varlink"), url)
    published: list[Snapshot] = []
    loop = CollectionLoop(backend=selector, collectors=COLLECTORS, interval=15, max_age=45,
                          publish=published.append)
    for _ in range(2):
        snap = loop.collect_once()
        assert not snap.up and published[-1] is snap
        assert snap.collectors and all(not c.success for c in snap.collectors)
    assert b'\npodman_up{endpoint=""} 0.0\n' in b"\n" + render(snap, MetricOptions()).text.join()


def test_any_exception_from_the_backend_source_is_every_collector_failing() -> None:
    def broken() -> PodmanBackend:
        raise RuntimeError("resolver bug")

    loop = CollectionLoop(backend=broken, collectors=COLLECTORS, interval=15, max_age=45,
                          publish=lambda _: None)
    snap = loop.collect_once()
    assert not snap.up
    assert all(not c.success and c.errors_total == 1 for c in snap.collectors)


def test_any_exception_in_a_collector_is_its_own_failure() -> None:
    backend, clock, published = fleet(), Clock(), []

    def bad_images() -> Batch[Image]:
        raise OverflowError("int too large")

    backend.list_images = bad_images  # type: ignore[method-assign]
    snap = make_loop(backend, clock, published).collect_once()
    status = {c.name: c.success for c in snap.collectors}
    assert status["images"] is False and status["containers"] and snap.up


def test_ages_use_the_monotonic_clock_not_the_wall_clock() -> None:
    backend, wall, mono, published = fleet(), Clock(), Clock(), []
    loop = CollectionLoop(backend=lambda: backend, collectors=COLLECTORS, interval=15,
                          max_age=45, publish=published.append, clock=wall, monotonic=mono,
                          intervals={"sizes": 300})
    loop.collect_once()
    backend.failing = {"images"}
    # the wall clock jumps back an hour while 46 s pass: the images section is stale
    wall.now -= 3600
    mono.now += 46
    snap = loop.collect_once()
    assert snap.images is None and snap.containers is not None
    assert snap.taken_at == wall.now  # exported times stay wall-clock
    # the wall clock jumps forward a day while 15 s pass: fresh data stays fresh
    backend.failing = {"host"}
    wall.now += 86400
    mono.now += 15
    snap = loop.collect_once()
    assert snap.host is not None and snap.images is not None
    assert backend.sizes_asked == 1  # the slow collector is not due after 61 s
    assert snap.last_success is not None and snap.last_success < snap.taken_at


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
        caplog: pytest.LogCaptureFixture) -> None:
    backend, clock, published = fleet(), Clock(), []
    loop = make_loop(backend, clock, published)
    caplog.set_level(logging.DEBUG, logger="podman_exporter")
    loop.collect_once()
    backend.failing = {"connect"}
    for _ in range(5):
        clock.now += 15
        loop.collect_once()
    backend.failing = set()
    clock.now += 15
    loop.collect_once()
    loop.stop()
    loud = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert [r.getMessage() for r in loud] == [
        "Podman unreachable: no socket",
        "Podman reachable again after 75s",
        "collection stopped",
    ]
    assert loud[0].levelno == logging.WARNING
    quiet = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("collector containers failed: no socket" in r.getMessage() for r in quiet)


def test_one_failing_collector_while_podman_answers_still_warns(
        caplog: pytest.LogCaptureFixture) -> None:
    backend, clock, published = fleet(), Clock(), []
    backend.failing = {"images"}
    caplog.set_level(logging.INFO, logger="podman_exporter")
    make_loop(backend, clock, published).collect_once()
    assert [r.getMessage() for r in caplog.records] == ["collector images failed: images failed"]


class LiveEvents:
    """An event source whose stream is live or not, as the test says."""

    def __init__(self) -> None:
        self.live = True

    def observe(self, containers: Sequence[Container], listed_at: float) -> None:
        pass

    def snapshot(self) -> EventsSnapshot:
        return EventsSnapshot(stream_up=self.live)

    def stop(self) -> None:
        pass


def live_loop(events: LiveEvents, clock: Clock) -> tuple[CollectionLoop, list[str]]:
    """Return a loop whose event stream is ``events``, and the list of its images
    listings (one per call), after a first collection."""
    backend, calls = fleet(), []
    loop = make_loop(backend, clock, [])
    loop.events_for = lambda _: events
    original = backend.list_images

    def counted() -> Batch[Image]:
        calls.append("images")
        return original()

    backend.list_images = counted  # type: ignore[method-assign]
    loop.collect_once()
    return loop, calls


def test_event_driven_sections_wait_for_events_while_the_stream_is_live() -> None:
    clock, events = Clock(), LiveEvents()
    loop, calls = live_loop(events, clock)
    for _ in range(5):
        clock.now += 15
        snap = loop.collect_once()
    assert calls == ["images"]  # images change only with events: not asked again
    assert snap.images is not None  # and still served
    loop.collect_once(frozenset({"images"}))  # an image event's refresh
    assert calls == ["images", "images"]
    events.live = False  # the stream is down: every interval again
    clock.now += 15
    loop.collect_once()
    assert calls == ["images", "images", "images"]


def test_a_scheduled_collection_does_the_refresh_waiting_for_it() -> None:
    """A refresh asked for just before a scheduled collection begins finds its work done
    by that collection: the sections it wanted are collected there, even those not due."""
    import threading

    clock = Clock()
    loop, calls = live_loop(LiveEvents(), clock)
    gate, triggered = threading.Event(), loop._triggered
    done: list[threading.Thread] = []

    def late() -> None:  # the refresh's own thread, held until the schedule has run
        done.append(threading.current_thread())
        gate.wait(10)
        triggered()

    loop._triggered = late  # type: ignore[method-assign]
    clock.now += 15
    loop.trigger(frozenset({"images"}))  # e.g. a container was created
    loop._scheduled()
    assert calls == ["images", "images"]  # the scheduled collection listed the images
    gate.set()
    done[0].join(10)
    assert calls == ["images", "images"]  # and the refresh found nothing left to do


def test_a_refresh_also_retries_the_collectors_that_failed() -> None:
    backend, clock, published = fleet(), Clock(), []
    loop = make_loop(backend, clock, published)
    backend.failing = {"stats"}
    loop.collect_once()
    backend.failing = set()
    backend.stats_asked.clear()
    snap = loop.collect_once(frozenset({"containers"}))
    assert len(backend.stats_asked) == 1  # failed last time: retried with the refresh
    assert all(c.success for c in snap.collectors)
    snap = loop.collect_once(frozenset({"containers"}))
    assert len(backend.stats_asked) == 1  # succeeded: its last result stands
