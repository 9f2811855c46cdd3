"""EventCounters: exits, restarts, OOM kills and event totals from events, listings and
cgroup readings; also fed with the recorded real Podman 4.3 stream."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from podman_exporter.collect.events import EventCounters, triggers_refresh
from podman_exporter.podman.events import Event, parse_event
from podman_exporter.snapshot.events import ContainerEvents

RECORDING = Path(__file__).resolve().parents[1] / "replies" / "podman-4.3" / "events.jsonl"
A, B = "a" * 64, "b" * 64


class Clock:
    def __init__(self) -> None:
        self.t = 10.0

    def __call__(self) -> float:
        return self.t


def make(**kw: object) -> tuple[EventCounters, Clock]:
    clock = Clock()
    return EventCounters(clock=clock, **kw), clock  # type: ignore[arg-type]


def feed(counters: EventCounters, cid: str, *actions: str, kind: str = "container") -> None:
    for i, action in enumerate(actions):
        counters.feed(Event(kind, action, cid, 1000 + i, "n", exit_code=1 if action == "died"
                            else 0))


def counts(counters: EventCounters, cid: str = A) -> ContainerEvents | None:
    return counters.snapshot().containers.get(cid)


def test_policy_and_manual_restarts_both_count() -> None:
    c, _ = make()
    feed(c, A, "create", "init", "start", "died", "restart", "init", "start")  # policy
    feed(c, A, "restart", "died", "cleanup", "init", "start")  # podman restart
    feed(c, A, "died", "cleanup")  # exits, no restart
    assert counts(c) == ContainerEvents(exits=3, restarts=2, oom_kills=None)


def test_the_restart_of_a_container_that_never_ran_is_not_counted() -> None:
    c, _ = make()
    feed(c, A, "create", "restart", "init", "start", "restart", "died", "init", "start")
    assert counts(c) == ContainerEvents(exits=1, restarts=1)


def test_counts_start_at_zero_and_go_on_remove() -> None:
    c, _ = make()
    feed(c, A, "create")
    assert counts(c) == ContainerEvents()
    feed(c, A, "died", "remove")
    assert counts(c) is None
    assert c.snapshot().events_total[("container", "died")] == 1


def test_events_total_counts_every_event_of_every_type() -> None:
    c, _ = make()
    feed(c, A, "create", "died", "died")
    feed(c, "", "pull", kind="image")
    feed(c, "p" * 64, "create", kind="pod")
    assert dict(c.snapshot().events_total) == {
        ("container", "create"): 1, ("container", "died"): 2, ("image", "pull"): 1,
        ("pod", "create"): 1}
    assert set(c.snapshot().containers) == {A}


def test_listing_adds_and_drops_containers_only_once_the_stream_was_up() -> None:
    c, clock = make()
    c.observe_listing([A, B], listed_at=clock.t)
    assert not c.snapshot().containers  # 0 before the stream ever connected could be wrong
    c.set_stream_up(True)
    c.observe_listing([A, B], listed_at=clock.t)
    assert set(c.snapshot().containers) == {A, B}
    c.set_stream_up(False)
    clock.t += 1
    c.observe_listing([A], listed_at=clock.t)
    assert set(c.snapshot().containers) == {A}


def test_a_listing_older_than_an_event_neither_drops_nor_revives() -> None:
    c, clock = make()
    c.set_stream_up(True)
    listed_at = clock.t
    clock.t += 1
    feed(c, B, "create")  # created after the listing was asked for
    feed(c, A, "create", "remove")  # and A removed after it
    c.observe_listing([A], listed_at=listed_at)  # the listing still has A, not B
    assert set(c.snapshot().containers) == {B}
    clock.t += 1
    c.observe_listing([], listed_at=clock.t)
    assert not c.snapshot().containers


def test_oom_from_cgroup_readings_summed_over_cgroup_lifetimes() -> None:
    c, _ = make()
    feed(c, A, "create")
    assert counts(c).oom_kills is None  # type: ignore[union-attr]
    c.observe_oom(A, 0, read_at=1.0)
    assert counts(c).oom_kills == 0  # type: ignore[union-attr]
    c.observe_oom(A, 2, read_at=2.0)
    c.observe_oom(A, 1, read_at=3.0)  # lower: a new cgroup after a restart
    c.observe_oom(A, None, read_at=4.0)  # cgroup gone: nothing known, nothing changes
    c.observe_oom(A, 2, read_at=2.5)  # older than a reading already taken: ignored
    assert counts(c).oom_kills == 3  # type: ignore[union-attr]
    c.observe_oom(A, 3, read_at=5.0)
    assert counts(c).oom_kills == 5  # type: ignore[union-attr]


def test_oom_events_and_cgroup_count_the_same_kills_the_larger_wins() -> None:
    c, _ = make()
    feed(c, A, "create", "oom", "died")
    assert counts(c).oom_kills == 1  # type: ignore[union-attr]
    c.observe_oom(A, 2, read_at=1.0)
    assert counts(c).oom_kills == 2  # type: ignore[union-attr]
    feed(c, A, "oom", "oom", "oom")
    assert counts(c).oom_kills == 4  # type: ignore[union-attr]


def test_kernel_log_kills_count_too_the_largest_source_wins() -> None:
    c, _ = make()
    c.count_kernel_oom(A)  # unknown container: ignored
    feed(c, A, "create")
    c.observe_oom(A, 1, read_at=1.0)
    for _ in range(3):
        c.count_kernel_oom(A)
    assert counts(c).oom_kills == 3  # type: ignore[union-attr]
    feed(c, A, *["oom"] * 4)
    assert counts(c).oom_kills == 4  # type: ignore[union-attr]


def test_oom_zero_when_podman_oom_events_are_known_to_be_sent() -> None:
    c, _ = make(oom_events_known=True)
    feed(c, A, "create")
    assert counts(c).oom_kills == 0  # type: ignore[union-attr]


def test_readings_of_unknown_containers_are_ignored() -> None:
    c, _ = make()
    c.observe_oom(A, 3, read_at=1.0)
    assert counts(c) is None


def test_stream_state_bad_lines_and_version() -> None:
    c, _ = make()
    v0 = c.version
    c.set_stream_up(True)
    assert c.snapshot().stream_up and c.version > v0
    v1 = c.version
    c.set_stream_up(True)
    assert c.version == v1  # no change, same version
    c.count_bad("not JSON")
    snap = c.snapshot()
    assert snap.bad_events_total == 1 and snap.version == c.version > v1


def test_refresh_is_asked_after_the_events_that_change_what_a_collection_shows() -> None:
    asked: list[int] = []
    c = EventCounters(on_refresh=lambda: asked.append(1))
    feed(c, A, "create", "init", "start", "exec", "exec_died", "died", "cleanup", "pause",
         "unpause", "rename", "health_status", "remove")
    assert len(asked) == 9  # not exec, exec_died, cleanup
    assert triggers_refresh(Event("image", "pull", "", 1))
    assert not triggers_refresh(Event("container", "attach", A, 1))


def test_concurrent_feeds_lose_nothing() -> None:
    c, _ = make()

    def worker(cid: str) -> None:
        for _ in range(2000):
            feed(c, cid, "died")

    threads = [threading.Thread(target=worker, args=(str(i) * 64,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    snap = c.snapshot()
    assert snap.events_total[("container", "died")] == 16_000
    assert all(v.exits == 2000 for v in snap.containers.values())


def test_the_recorded_real_stream() -> None:
    """Exits are the died events, restarts the restart events but the pod infra
    container's first one; removed containers are gone."""
    events = [parse_event(line) for line in RECORDING.read_bytes().splitlines()]
    c, _ = make()
    c.set_stream_up(True)
    names: dict[str, str] = {}
    alive: dict[str, ContainerEvents] = {}
    for e in events:
        c.feed(e)
        if e.type == "container":
            names[e.id] = e.name
        snap = c.snapshot().containers
        alive.update({names[i]: v for i, v in snap.items()})
    died = Counter(names[e.id] for e in events if e.action == "died")
    restart = Counter(names[e.id] for e in events if e.action == "restart")
    infra = next(n for n in names.values() if n.endswith("-infra"))
    assert restart[infra] == 1 and alive[infra].restarts == 0
    for name in ("ev-exit3", "ev-loop", "ev-renamed", "ev-oom", "ev-rmf"):
        assert alive[name].exits == died[name] > 0
        assert alive[name].restarts == restart[name]
    assert alive["ev-loop"].restarts >= 3
    assert alive["ev-renamed"].restarts == 1  # podman restart, under its earlier name
    assert not c.snapshot().containers  # every container was removed in the end
    assert sum(c.snapshot().events_total.values()) == len(events)
