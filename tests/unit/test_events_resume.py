"""Where a reconnected event stream resumes, which replayed events it drops, and the
backoff between attempts."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from podman_exporter.podman.event_stream import Backoff
from podman_exporter.podman.events import Event, Resume, rfc3339_nano

S = 1_000_000_000
T = 1_796_183_722 * S


def ev(nano: int, action: str = "died", cid: str = "a", name: str = "n") -> Event:
    return Event("container", action, cid, nano, name)


def replay(resume: Resume, log: list[Event], reconnect_at: int) -> list[Event]:
    """Return what a stream resumed by ``resume`` delivers: the log's events strictly
    after ``since``, in log order, minus the ones already delivered."""
    resume.connected(reconnect_at)
    since = resume.since()
    return [e for e in log if (since is None or e.time_nano > since) and resume.accept(e)]


def test_rfc3339_nano_keeps_every_digit() -> None:
    nano = 1_796_183_722_140_130_302
    expected = datetime.fromtimestamp(nano // S, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert rfc3339_nano(nano) == expected + ".140130302Z"
    assert rfc3339_nano(5 * S + 7) == "1970-01-01T00:00:05.000000007Z"


def test_first_connection_starts_now_and_resumes_from_there() -> None:
    resume = Resume(lookback_ns=2 * S)
    assert resume.since() is None
    resume.connected(T)
    assert resume.since() == T
    resume.connected(T + 10 * S)  # a reconnection before any event: still from T
    assert resume.since() == T


def test_resume_looks_back_and_drops_what_was_delivered() -> None:
    resume = Resume(lookback_ns=2 * S)
    resume.connected(T - 10 * S)
    log = [ev(T - 5 * S, cid="old"), ev(T, "create"), ev(T, "init"), ev(T + 1, "start"),
           ev(T + 2, "died")]
    delivered = [e for e in log[:4] if resume.accept(e)]
    assert delivered == log[:4]
    assert resume.since() == T + 1 - 2 * S
    # The stream drops after "start"; "died" and a late, earlier-stamped event were
    # logged meanwhile.
    late = ev(T - S // 2, "pull", cid="", name="img")
    log += [late]
    again = replay(resume, log, T + 5 * S)
    assert again == [log[4], late]  # nothing twice, nothing lost


def test_events_sharing_a_time_are_counted_as_a_multiset() -> None:
    same = ev(T, "exec_died")
    log = [same, same, ev(T, "exec")]
    resume = Resume(lookback_ns=1)
    resume.connected(T - S)
    assert [e for e in log[:2] if resume.accept(e)] == [same, same]
    log.append(same)  # a third identical event, logged while disconnected
    assert replay(resume, log, T + S) == [ev(T, "exec"), same]


def test_window_is_pruned_but_keeps_the_lookback() -> None:
    resume = Resume(lookback_ns=10)
    resume.connected(0)
    for i in range(5000):
        assert resume.accept(ev(1000 + i, cid=str(i)))
    log = [ev(1000 + i, cid=str(i)) for i in range(5000)] + [ev(7000, cid="new")]
    assert replay(resume, log, 10**6) == [ev(7000, cid="new")]
    assert len(resume._window) < 2100  # pruned, not every event since start


def test_backoff_grows_is_capped_and_jittered() -> None:
    backoff = Backoff(initial=0.5, cap=8.0, rng=random.Random(1))
    for attempt, full in enumerate([0.5, 1, 2, 4, 8, 8, 8]):
        delays = {backoff.delay(attempt) for _ in range(50)}
        assert all(full / 2 <= d <= full for d in delays)
        assert len(delays) > 1
    assert backoff.delay(10_000) <= 8.0
