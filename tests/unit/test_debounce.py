"""The Debouncer with a fake clock and a fake scheduler: no waiting, no wall clock."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from podman_exporter.collect.debounce import Debouncer


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Scheduler:
    """Keeps planned runs; ``advance`` moves the clock and fires what fell due."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.planned: list[tuple[float, Callable[[], None]]] = []
        self.cancelled = 0

    def __call__(self, delay: float, run: Callable[[], None]) -> Callable[[], None]:
        entry = (self.clock.t + delay, run)
        self.planned.append(entry)

        def cancel() -> None:
            if entry in self.planned:
                self.planned.remove(entry)
                self.cancelled += 1
        return cancel

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` on, firing each planned run at its own time."""
        end = self.clock.t + seconds
        while self.planned and min(e[0] for e in self.planned) <= end:
            entry = min(self.planned, key=lambda e: e[0])
            self.planned.remove(entry)
            self.clock.t = max(self.clock.t, entry[0])
            entry[1]()
        self.clock.t = end


def make(per_second: float = 2.0) -> tuple[Debouncer, list[float], Scheduler]:
    clock = Clock()
    scheduler = Scheduler(clock)
    runs: list[float] = []
    debouncer = Debouncer(lambda: runs.append(clock.t), per_second, clock=clock,
                          schedule=scheduler)
    return debouncer, runs, scheduler


def test_first_poke_runs_at_once() -> None:
    debouncer, runs, scheduler = make()
    debouncer.poke()
    assert runs == [100.0] and not scheduler.planned


def test_a_burst_coalesces_into_one_run_at_the_end_of_the_interval() -> None:
    debouncer, runs, scheduler = make(per_second=2.0)
    debouncer.poke()
    for _ in range(1000):
        debouncer.poke()
        scheduler.clock.t += 0.0001
    assert runs == [100.0] and len(scheduler.planned) == 1
    scheduler.advance(0.5)
    assert runs == [100.0, pytest.approx(100.5)]
    assert debouncer.runs == 2


def test_never_more_than_the_rate() -> None:
    debouncer, runs, scheduler = make(per_second=4.0)
    for _ in range(4000):  # a poke every millisecond for 4 s
        debouncer.poke()
        scheduler.advance(0.001)
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    assert len(runs) in (16, 17) and min(gaps) >= 0.25 - 1e-9


def test_a_poke_after_a_quiet_interval_runs_at_once_again() -> None:
    debouncer, runs, scheduler = make(per_second=1.0)
    debouncer.poke()
    scheduler.advance(5.0)
    debouncer.poke()
    assert runs == [100.0, 105.0] and not scheduler.planned


def test_a_poke_within_the_interval_waits_only_for_the_rest_of_it() -> None:
    debouncer, _, scheduler = make(per_second=1.0)
    debouncer.poke()
    scheduler.clock.t += 0.75
    debouncer.poke()
    assert scheduler.planned[0][0] == pytest.approx(101.0)


def test_stop_cancels_the_planned_run_and_ignores_later_pokes() -> None:
    debouncer, runs, scheduler = make()
    debouncer.poke()
    debouncer.poke()
    debouncer.stop()
    assert scheduler.cancelled == 1
    scheduler.advance(10)
    debouncer.poke()
    assert runs == [100.0]


def test_a_failing_action_is_logged_and_the_debouncer_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    scheduler = Scheduler(clock)
    calls: list[float] = []

    def action() -> None:
        calls.append(clock.t)
        raise RuntimeError("boom")

    debouncer = Debouncer(action, 1.0, clock=clock, schedule=scheduler)
    debouncer.poke()
    debouncer.poke()
    scheduler.advance(1.0)
    assert len(calls) == 2
    assert "debounced action failed" in caplog.text


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Debouncer(lambda: None, 0)
