"""Events joined to the collections: refreshes of the sections an event changed, counts
published with each snapshot, counts derived from listings on varlink.

Waits poll until a condition holds; they bound a hang, they do not measure speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from podman_exporter.collect.collectors import COLLECTORS
from podman_exporter.collect.loop import CollectionLoop
from podman_exporter.collect.watch import EventWatch, ListingEvents, sections_of
from podman_exporter.config import Config
from podman_exporter.metrics.events import event_families
from podman_exporter.podman.backend import PodmanBackend
from podman_exporter.podman.events import Event
from podman_exporter.podman.select import BackendSelector
from podman_exporter.sim import SimOptions, SimulatorHandle, start_simulator
from podman_exporter.snapshot.model import Container, ContainerState
from podman_exporter.snapshot.snapshot import Snapshot


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.01)


@dataclass
class Published:
    """Every snapshot the loop published, and how many stats calls it made."""

    snapshots: list[Snapshot] = field(default_factory=list)

    def last(self) -> Snapshot:
        return self.snapshots[-1]

    def names(self) -> set[str]:
        return {c.name for c in self.last().containers or ()}


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[SimulatorHandle, CollectionLoop, Published]]:
    """Return a simulator, a loop on it (varlink) with an EventWatch on its REST event
    stream, after a first collection; the loop's schedule is never started."""
    handle = start_simulator(f"unix:{tmp_path / 'v.sock'}",
                             SimOptions(containers=4, images=2, seed=5))
    rest = handle.serve_rest(str(tmp_path / "r.sock"))
    published = Published()
    config = Config(podman_api="varlink", podman_timeout=5.0)
    selector = BackendSelector(config, handle.address)
    watches: list[EventWatch] = []

    def events_for(_: PodmanBackend) -> EventWatch:
        watch = EventWatch(rest.url, loop.trigger, read_cgroups=False)
        watch.start()
        watches.append(watch)
        return watch

    loop = CollectionLoop(backend=selector, collectors=COLLECTORS, interval=3600, max_age=7200,
                          publish=published.snapshots.append, events_for=events_for)
    loop.collect_once()
    wait_for(lambda: watches and watches[0].snapshot().stream_up is True, "the stream")
    yield handle, loop, published
    loop.stop()
    selector.close()
    handle.stop()


def test_a_new_container_shows_through_a_refresh_of_the_listing_only(
        watched: tuple[SimulatorHandle, CollectionLoop, Published]) -> None:
    handle, _, published = watched
    before = len(published.snapshots)
    stats_calls = handle.calls().get("io.projectatomic.podman.GetContainersStats", 0)
    [cid] = handle.fleet.add_containers(1)
    name = handle.fleet.find(cid).name
    wait_for(lambda: name in published.names(), "the new container")
    assert len(published.snapshots) > before
    # The refresh listed containers; it did not ask for stats (their last result stands).
    assert handle.calls().get("io.projectatomic.podman.GetContainersStats", 0) == stats_calls
    snap = published.last()
    assert snap.events is not None and snap.events.stream_up is True
    assert snap.events.containers[cid].exits == 0


def test_a_removed_container_goes_with_its_counts(
        watched: tuple[SimulatorHandle, CollectionLoop, Published]) -> None:
    handle, _, published = watched
    [cid] = handle.fleet.add_containers(1)
    name = handle.fleet.find(cid).name
    wait_for(lambda: name in published.names(), "the new container")
    handle.fleet.kill(cid, 9)
    wait_for(lambda: (e := published.last().events) is not None and cid in e.containers
             and e.containers[cid].exits == 1, "the exit counted")
    handle.fleet.remove(cid, force=False)
    wait_for(lambda: name not in published.names(), "the container gone")
    events = published.last().events
    assert events is not None and cid not in events.containers
    assert events.events_total[("container", "remove")] >= 1


def container(cid: str, state: ContainerState) -> Container:
    return Container(id=cid, name=cid, state=state)


R, E, C = ContainerState.RUNNING, ContainerState.EXITED, ContainerState.CREATED


def test_listing_events_derive_exits_and_restarts_from_state_changes() -> None:
    events = ListingEvents()
    for states in ((C, R, R), (R, E, R), (R, R, E), (E, R, R), (R, R, R)):
        events.observe([container(n, s) for n, s in zip("abc", states, strict=True)], 0.0)
    snap = events.snapshot()
    assert snap.stream_up is None
    # a: created -> running (a start, not a restart) -> exited -> running again;
    # b and c: running -> exited -> running again.
    counts = {cid: (c.exits, c.restarts, c.oom_kills) for cid, c in snap.containers.items()}
    assert counts == {"a": (1, 1, None), "b": (1, 1, None), "c": (1, 1, None)}
    families = {f.name for f in event_families(snap, [container(n, R) for n in "abc"])}
    assert "podman_exporter_event_stream_up" not in families  # no stream on varlink
    assert "podman_container_oom_events" not in families  # never known: absent


def test_listing_events_forget_removed_containers() -> None:
    events = ListingEvents()
    events.observe([container("a", R)], 0.0)
    events.observe([container("a", E)], 0.0)
    events.observe([], 0.0)
    events.observe([container("a", R)], 0.0)  # a new container that reuses the id
    assert events.snapshot().containers["a"].exits == 0


@pytest.mark.parametrize(("event", "sections"), [
    (Event("container", "start", "c" * 64, 1, pod_id="p" * 64), ("containers", "pods")),
    (Event("container", "create", "c" * 64, 1, pod_id="p" * 64),
     ("containers", "images", "pods")),
    (Event("container", "died", "c" * 64, 1, pod_id=""), ("containers",)),
    (Event("container", "remove", "c" * 64, 1, pod_id=""), ("containers", "images")),
    (Event("pod", "start", "p" * 64, 1), ("pods", "containers")),
    (Event("image", "pull", "", 1), ("images",)),
    (Event("system", "refresh", "", 1), ()),
])
def test_the_sections_an_event_refreshes(event: Event, sections: tuple[str, ...]) -> None:
    """A pod member's events refresh its pod: Podman sends no pod event when a member
    is created, starts or dies, yet the pod's state and container count change; a
    container's creation and removal refresh the images (their container counts)."""
    assert sections_of(event) == sections
