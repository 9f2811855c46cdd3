"""Go text formats of the simulator against outputs of Go's time package."""

from __future__ import annotations

from datetime import datetime

import pytest

from podman_exporter.podman.gotext import NS, ZONES, Zone, go_duration, go_time


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (1_100, "1.1µs"),
        (1_500_000, "1.5ms"),
        (45_123_456_789, "45.123456789s"),
        (90 * NS, "1m30s"),
        (3 * 3600 * NS, "3h0m0s"),
        (3723_500_000_000, "1h2m3.5s"),
        (-2 * NS, "-2s"),
    ],
)
def test_go_duration_matches_go(ns: int, text: str) -> None:
    assert go_duration(ns) == text


def test_go_time_text_and_monotonic_tail() -> None:
    cdt = Zone("CDT", -5 * 3600)
    assert go_time(1525977683_123456789, cdt) == "2018-05-10 13:41:23.123456789 -0500 CDT"
    assert go_time(1525977683_100000000, cdt) == "2018-05-10 13:41:23.1 -0500 CDT"
    utc = Zone("UTC", 0)
    assert go_time(1525977683 * NS, utc, 1_000_000) == (
        "2018-05-10 18:41:23 +0000 UTC m=+0.001000000"
    )


@pytest.mark.parametrize("zone", ZONES)
def test_go_time_parses_back(zone: Zone) -> None:
    text = go_time(1525977683_123456000, zone)
    stamp, offset, abbr = text.rsplit(" ", 2)
    parsed = datetime.strptime(f"{stamp} {offset}", "%Y-%m-%d %H:%M:%S.%f %z")
    assert parsed.timestamp() == pytest.approx(1525977683.123456)
    assert abbr == zone.abbr
