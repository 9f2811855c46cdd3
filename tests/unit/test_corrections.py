"""Podman's reporting bugs and their corrections (podman/corrections.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podman_exporter.podman.corrections import (
    BootClock,
    measured,
    net_counters_swapped,
    net_pair,
    podman_uptime_ranges,
    uptime_ranges,
    uptime_rounds_minutes,
    version_tuple,
)
from podman_exporter.snapshot.model import Batch, ContainerStats


@pytest.mark.parametrize(("version", "swapped"), [
    ("4.3.1", True), ("4.3.0-rc1", True), ("v4.2.0", True), ("0.5.2", True), ("1.9.3", True),
    ("4.4.0", False), ("4.4.0-dev", False), ("4.9.4", False), ("5.2.1", False),
    ("6.0.0", False), ("10.0.0", False), ("", None), ("unknown", None),
])
def test_net_swap_by_version(version: str, swapped: bool | None) -> None:
    assert net_counters_swapped(version) is swapped


def test_version_tuple() -> None:
    assert version_tuple("4.10.2") == (4, 10)
    assert version_tuple("v5.0") == (5, 0)
    assert version_tuple("x4.3") is None


def test_net_pair() -> None:
    assert net_pair(11_202, 3_021_334, swapped=True) == (3_021_334, 11_202)
    assert net_pair(11_202, 3_021_334, swapped=False) == (11_202, 3_021_334)
    assert net_pair(11_202, 3_021_334, swapped=None) == (None, None)
    assert net_pair(None, 5, swapped=True) == (5, None)


@pytest.mark.parametrize(("text", "seconds"), [
    ("0h 54m 56.00s", 3236),  # seen on Podman 4.3: 53 m 56 s, the minutes rounded up
    ("0h 4m 21.00s", 261),  # recorded with /proc/uptime at 261.09
    ("4h 13m 2.00s (Approximately 0.17 days)", 4 * 3600 + 13 * 60 + 2),
    ("0h 1m 59.00s", 59),
    ("1h 60m 45.00s (Approximately 0.04 days)", 3600 + 59 * 60 + 45),
])
def test_podman_uptime_single_candidate(text: str, seconds: int) -> None:
    assert podman_uptime_ranges(text) == ((seconds, seconds + 1),)


def test_podman_uptime_at_thirty_seconds_has_two_candidates() -> None:
    # 12 m 30 s and 11 m 30 s both print as 12 m (Go rounds 12.5 and 11.5 to even 12).
    assert podman_uptime_ranges("0h 12m 30.00s") == ((750.0, 751.0), (690.0, 691.0))


@given(st.integers(min_value=0, max_value=400 * 86400))
def test_every_uptime_is_among_the_candidates_of_its_text(seconds: int) -> None:
    text = podman_uptime_text(seconds + 0.37)
    ranges = podman_uptime_ranges(text)
    assert ranges is not None
    assert any(low <= seconds + 0.37 < high for low, high in ranges)
    assert len(ranges) == 1 if seconds % 60 != 30 else 1 <= len(ranges) <= 2
    assert all(high - low == 1 for low, high in ranges)


def test_text_is_what_podman_prints() -> None:
    assert podman_uptime_text(3236.4) == "0h 54m 56.00s"
    assert podman_uptime_text(3215.0) == "0h 54m 35.00s"  # minutes rounded up by Podman
    assert podman_uptime_text(4 * 3600 + 13 * 60 + 2.5) == (
        "4h 13m 2.00s (Approximately 0.17 days)")


def podman_uptime_text(seconds: float, rounded: bool = True) -> str:
    """Return the uptime as Podman 4.2+ formats it (libpod/info.go): truncated hours,
    minutes rounded half to even from 4.2 to 5.3 (Python rounds as Go does), whole
    seconds."""
    whole = int(seconds)
    hours = whole // 3600
    minutes = round((whole % 3600) / 60) if rounded else whole % 3600 // 60
    text = f"{hours}h {minutes}m {whole % 60:.2f}s"
    return text + (f" (Approximately {hours / 24:.2f} days)" if hours > 0 else "")


@pytest.mark.parametrize(("version", "rounds"), [
    ("4.1.1", False), ("4.2.0", True), ("4.3.1", True), ("5.3.2", True), ("5.4.0", False),
    ("6.0.0-dev", False), ("", None)])
def test_which_versions_round(version: str, rounds: bool | None) -> None:
    assert uptime_rounds_minutes(version) is rounds


@given(st.integers(min_value=0, max_value=400 * 86400))
def test_exact_minutes_from_5_4(seconds: int) -> None:
    assert uptime_ranges(podman_uptime_text(seconds + 0.5, rounded=False), "5.4.0") == (
        (seconds, seconds + 1),)


def test_unknown_version_keeps_both_readings() -> None:
    assert uptime_ranges("0h 12m 40.00s", "") == ((700.0, 701.0), (760.0, 761.0))
    assert uptime_ranges("0h 12m 20.00s", "") == ((740.0, 741.0),)


def test_go_duration_texts() -> None:
    # The varlink service and Podman before 4.2: Go's Duration.String() with spaces.
    assert uptime_ranges("3h 25m 45.67s (Approximately 0.12 days)", None) == (
        (12345.67, 12345.67),)
    assert uptime_ranges("25m 45.67s", "4.1.0") == ((1545.67, 1545.67),)
    assert uptime_ranges("1h2m3.5s", None) == ((3723.5, 3723.5),)
    assert uptime_ranges("soon", None) == ()
    assert uptime_ranges("soon", "4.3.1") == ()


def test_other_texts() -> None:
    assert podman_uptime_ranges("0h 61m 3.00s") is None
    assert podman_uptime_ranges("0h 3m 60.00s") is None


def test_boot_clock_resolves_the_ambiguity_with_the_next_reading() -> None:
    clock = BootClock()
    boot = 1_000_000.25
    at = boot + 750.5  # uptime 12 m 30.5 s: ambiguous
    assert clock.observe(uptime_ranges(podman_uptime_text(at - boot), "4.3.1"), at,
                         at + 0.01) is None
    later = at + 15
    up = clock.observe(uptime_ranges(podman_uptime_text(later - boot), "4.3.1"), later,
                       later + 0.01)
    assert up == pytest.approx(later + 0.01 - boot, abs=0.51)


def test_boot_clock_narrows_to_well_under_a_second() -> None:
    clock = BootClock()
    boot = 5_000.8
    up = None
    for step in range(40):
        at = boot + 100 + step * 15.3
        up = clock.observe(uptime_ranges(podman_uptime_text(at - boot), "4.3.1"), at, at + 0.002)
    assert up == pytest.approx(boot + 100 + 39 * 15.3 + 0.002 - boot, abs=0.06)


def test_boot_clock_starts_again_after_a_reboot() -> None:
    clock = BootClock()
    for at in (10_000.0, 10_015.0):
        clock.observe(uptime_ranges(podman_uptime_text(at - 1_000), "4.3.1"), at, at)
    up = clock.observe(uptime_ranges(podman_uptime_text(40.2), "4.3.1"), 10_030.0, 10_030.0)
    assert up == pytest.approx(40.2, abs=0.51)


def test_zero_filled_entries_are_not_measurements() -> None:
    stopped = ContainerStats(id="s" * 64, cpu_seconds=0.0, mem_usage_bytes=0, pids=0,
                             net_input_bytes=0)
    idle = ContainerStats(id="i" * 64, cpu_seconds=0.0, mem_usage_bytes=4096)
    busy = ContainerStats(id="b" * 64, cpu_seconds=2.5, mem_usage_bytes=0)
    kept = measured(Batch((stopped, idle, busy), bad=1))
    assert [s.id[0] for s in kept.items] == ["i", "b"] and kept.bad == 1
