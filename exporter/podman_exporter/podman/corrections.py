"""Podman's own reporting bugs, corrected by version. Each correction is one named function.

docs/metrics.md ("Podman bugs we correct") lists each with the affected versions
and the upstream reference:

- ``net_counters_swapped`` and ``net_pair``: Podman before 4.4 filled NetInput from the transmit
  counter and NetOutput from the receive counter (containers/podman#16618); the
  ``io.projectatomic.podman`` service had the same assignment.
- ``podman_uptime_ranges``: Podman 4.2 to 5.3 write the host uptime as
  ``%.0fh %.0fm %.2fs`` text whose minutes are *rounded* (one too many when the
  seconds are past 30) and whose seconds are truncated; the text is turned into the
  range(s) of true uptimes it can stand for, and ``BootClock`` narrows them to one
  value, exact to well under a second after a few readings.
- ``measured``: Podman answers a zero-filled stats entry for a container it did not
  measure (not running or paused, e.g. one that stopped after it was listed); such an
  entry is left out rather than published as zero usage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from podman_exporter.podman.timeparse import uptime
from podman_exporter.snapshot.model import Batch, ContainerStats

NET_SWAP_FIXED_IN = (4, 4)
"""First Podman release whose NetInput counts received bytes (containers/podman#16618)."""
UPTIME_ROUNDING = ((4, 2), (5, 4))
"""Podman releases whose uptime text rounds the minutes: from 4.2.0 (commit e13c5f3a9e)
until 5.4.0 (containers/podman#24728)."""

_VERSION = re.compile(r"^v?(\d+)\.(\d+)")
Ranges = tuple[tuple[float, float], ...]
"""Candidate ranges ``[low, high)`` of a value, in seconds."""
_PODMAN_UPTIME = re.compile(r"^(\d+)h (\d+)m (\d+)(?:\.\d+)?s\b")


def version_tuple(version: str) -> tuple[int, int] | None:
    """Return (major, minor) of a version such as ``4.3.1`` or ``v5.2.0-rc1``; None if unknown."""
    match = _VERSION.match(version.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def net_counters_swapped(version: str) -> bool | None:
    """Return whether this Podman version reports NetInput and NetOutput swapped.

    True before 4.4 (the varlink-era service included: its versions are 0.x),
    False from 4.4 on, None when the version is unknown.
    """
    parsed = version_tuple(version)
    return None if parsed is None else parsed < NET_SWAP_FIXED_IN


def net_pair(
    net_input: int | None, net_output: int | None, swapped: bool | None
) -> tuple[int | None, int | None]:
    """Return (received, sent) bytes from a NetInput/NetOutput pair as Podman sent it:
    exchanged where that Podman swaps them, (None, None) where whether it does is
    unknown."""
    if swapped is None:
        return None, None
    return (net_output, net_input) if swapped else (net_input, net_output)


def _fixed_ranges(hours: int, minutes: tuple[int, ...], secs: int) -> Ranges:
    return tuple(
        (float(start), float(start + 1))
        for m in minutes
        if 0 <= m <= 59
        for start in (hours * 3600 + m * 60 + secs,)
    )


def podman_uptime_ranges(text: str, rounded: bool | None = True) -> Ranges | None:
    """Return the ranges ``[low, high)`` of true uptimes, in seconds, that the uptime text
    of Podman 4.2 and later can stand for; None when the text is not in that format.

    Podman prints ``%.0fh %.0fm %.2fs`` of the truncated hours, minutes and whole
    seconds. From 4.2 to 5.3 (``rounded``) the minutes printed are
    ``(uptime mod 3600) / 60`` rounded half to even: seconds above 30 mean they were
    rounded up, and exactly 30 leaves two candidates a minute apart. ``rounded=None``
    (the version is unknown) returns the candidates of both readings.
    """
    match = _PODMAN_UPTIME.match(text.strip())
    if not match:
        return None
    hours, shown, secs = (int(g) for g in match.groups())
    if secs >= 60 or shown > 60:
        return None
    exact: tuple[int, ...] = (shown,)
    up: tuple[int, ...]
    if secs < 30:
        up = exact
    elif secs > 30:
        up = (shown - 1,)
    else:
        up = (shown, shown - 1)
    candidates = {True: up, False: exact, None: tuple(dict.fromkeys(up + exact))}[rounded]
    return _fixed_ranges(hours, candidates, secs) or None


def uptime_rounds_minutes(version: str) -> bool | None:
    """Return whether this Podman's uptime text rounds the minutes (4.2.0 to 5.3.x),
    None when the version is unknown."""
    parsed = version_tuple(version)
    return None if parsed is None else UPTIME_ROUNDING[0] <= parsed < UPTIME_ROUNDING[1]


def uptime_ranges(text: str, version: str | None) -> Ranges:
    """Return the candidate uptime ranges of a host uptime text.

    ``version`` is the Podman version of a REST reply: from 4.2 the text has Podman's
    fixed format (``podman_uptime_ranges``). Before 4.2, and in the varlink service
    (``version=None``), it is an exact Go duration with spaces, ``3h 25m 45.67s``, read
    as one zero-width range. () when the text is neither.
    """
    if version is not None:
        ranges = podman_uptime_ranges(text, uptime_rounds_minutes(version))
        if ranges is not None:  # (a Go duration with hours reads the same, rounded=False)
            return ranges
    exact = uptime(text)
    return () if exact is None else ((exact, exact),)


def measured(batch: Batch[ContainerStats]) -> Batch[ContainerStats]:
    """Return the stats entries that hold a measurement.

    Podman answers all zeros for a container it did not measure (one that is not
    running or paused, e.g. stopped after it was listed; the 2018 service also for a
    paused one), while a measured container has used CPU time and memory.
    """
    kept = tuple(s for s in batch.items if s.cpu_seconds or s.mem_usage_bytes)
    return batch if len(kept) == len(batch.items) else Batch(kept, batch.bad)


@dataclass(slots=True)
class BootClock:
    """The host's boot time, narrowed by every uptime reading; returns exact uptimes.

    Each reading says the host booted within ``[asked - high, answered - low]`` for
    one of its candidate ranges (``asked``/``answered``: wall-clock times around the
    call). Candidates that no longer overlap the boot window are dropped; when none
    does, the host rebooted (or the clock stepped) and the window starts again.
    """

    _windows: list[tuple[float, float]] = field(default_factory=list)

    def observe(self, ranges: Ranges, asked: float, answered: float) -> float | None:
        """Return the uptime at ``answered``, or None while two boot times remain possible."""
        new = [(asked - high, answered - low) for low, high in ranges]
        kept = [
            (max(lo, nlo), min(hi, nhi))
            for lo, hi in self._windows
            for nlo, nhi in new
            if max(lo, nlo) <= min(hi, nhi)
        ]
        self._windows = kept or new
        if len(self._windows) != 1:
            return None
        lo, hi = self._windows[0]
        return answered - (lo + hi) / 2
