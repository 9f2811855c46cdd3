"""Time texts pinned by their documented formats (podman/timeparse.py, podman/corrections.py).

- Go's ``time.Time.String()``: ``2006-01-02 15:04:05.999999999 -0700 MST``, trailing
  zeros of the fraction dropped, `` m=±<seconds>`` appended while the monotonic reading
  is there (the io.projectatomic.podman service's times);
- RFC 3339 with up to nanoseconds (``time.RFC3339Nano``, libpod REST);
- Go's zero time, ``0001-01-01 00:00:00 +0000 UTC``: no time;
- Podman's host uptime text.
The expected values are unix times worked out by hand from the calendar.
"""

from __future__ import annotations

import pytest

from podman_exporter.podman.corrections import podman_uptime_ranges, uptime_ranges
from podman_exporter.podman.timeparse import go_time, rfc3339, uptime

MAY_10 = 1525977683  # 2018-05-10 18:41:23 UTC


@pytest.mark.parametrize(("text", "unix"), [
    ("2018-05-10 18:41:23 +0000 UTC", MAY_10),
    ("2018-05-10 13:41:23 -0500 CDT", MAY_10),
    ("2018-05-11 00:11:23 +0530 IST", MAY_10),
    ("2018-05-10 13:41:23.5 -0500 CDT", MAY_10 + 0.5),
    ("2018-05-10 13:41:23.05 -0500 CDT", MAY_10 + 0.05),
    ("2018-05-10 13:41:23.123456789 -0500 CDT m=+0.001000001", MAY_10 + 0.123456789),
    ("2018-05-10 13:41:23.1 -0500 CDT m=-12.5", MAY_10 + 0.1),
    ("1970-01-01 00:00:00.000000001 +0000 UTC", 1e-9),
    ("1970-01-01 00:00:00.999999999 +0000 UTC", 0.999999999),
])
def test_go_time(text: str, unix: float) -> None:
    assert go_time(text) == pytest.approx(unix, rel=0, abs=1e-7)
    if unix < 1:  # near the epoch a float holds every nanosecond
        assert go_time(text) == unix


def test_go_time_without_fraction_is_whole_seconds() -> None:
    assert go_time("2018-05-10 18:41:23 +0000 UTC") == float(MAY_10)


@pytest.mark.parametrize("text", [
    "0001-01-01 00:00:00 +0000 UTC",  # Go's zero time
    "yesterday",
    "",
    "2018-05-10T18:41:23Z",  # RFC 3339 is not Go's String()
    "2018-02-30 12:00:00 +0000 UTC",  # no such day
])
def test_not_a_go_time(text: str) -> None:
    assert go_time(text) is None


@pytest.mark.parametrize(("text", "unix"), [
    ("2018-05-10T18:41:23Z", MAY_10),
    ("2018-05-10T13:41:23-05:00", MAY_10),
    ("2018-05-11T00:11:23+05:30", MAY_10),
    ("2018-05-10T18:41:23.5Z", MAY_10 + 0.5),
    ("2018-05-10T13:41:23.42689677-05:00", MAY_10 + 0.42689677),  # 8 digits: a zero dropped
    ("1970-01-01T00:00:00.000000001Z", 1e-9),
    ("1970-01-01T01:00:00.25+01:00", 0.25),
])
def test_rfc3339(text: str, unix: float) -> None:
    assert rfc3339(text) == pytest.approx(unix, rel=0, abs=1e-7)
    if unix < 1:
        assert rfc3339(text) == unix


@pytest.mark.parametrize("text", [
    "0001-01-01T00:00:00Z",  # Go's zero time, as libpod writes an unset Created
    "",
    "2018-05-10 13:41:23 -0500 CDT",
    "2018-05-10T18:41:23",  # no zone
    "2018-13-10T18:41:23Z",
])
def test_not_rfc3339(text: str) -> None:
    assert rfc3339(text) is None


@pytest.mark.parametrize(("text", "seconds"), [
    ("4h 13m 2.5s (Approximately 0.17 days)", 4 * 3600 + 13 * 60 + 2.5),
    ("3h 25m 45.67s", 12345.67),
    ("1h2m3.5s", 3723.5),
    ("45.123456789s", 45.123456789),
    ("1.5ms", 0.0015),
    ("250us", 0.00025),
    ("250µs", 0.00025),
    ("100ns", 1e-7),
    ("0s", 0.0),
])
def test_go_durations(text: str, seconds: float) -> None:
    assert uptime(text) == pytest.approx(seconds, rel=1e-12)


@pytest.mark.parametrize("text", ["", "soon", "(Approximately 0.17 days)", "5m 3s later",
                                  "5x", "h3m"])
def test_not_a_duration(text: str) -> None:
    assert uptime(text) is None


def test_sixty_minutes_are_only_printed_by_rounding() -> None:
    """Podman 4.2-5.3 print 1 h 59 m 45 s as ``1h 60m 45.00s``. With the version unknown
    both readings of a text are candidates, but no exact reading shows 60 minutes."""
    assert uptime_ranges("1h 60m 45.00s", "") == ((7185.0, 7186.0),)
    assert uptime_ranges("1h 60m 45.00s", "4.3.1") == ((7185.0, 7186.0),)
    assert podman_uptime_ranges("1h 60m 45.00s", rounded=False) is None
