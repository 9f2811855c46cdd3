"""Parsing of the time and duration texts Podman sends."""

from __future__ import annotations

import re
from datetime import datetime

_GO_TIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))? ([+-]\d{4})"
    r"(?: \S+)?(?: m=[+-][\d.]+)?$"
)
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$"
)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|m|s|ms|us|µs|ns)(?![a-z])")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def _to_unix(date: str, clock: str, fraction: str | None, offset: str) -> float | None:
    """Return unix seconds of a date, a time, its fraction digits and a ``+hhmm`` or
    ``+hh:mm`` offset (``fromisoformat``: a tenth of ``strptime``'s cost)."""
    zone = offset if ":" in offset else f"{offset[:3]}:{offset[3:]}"
    try:
        stamp = datetime.fromisoformat(f"{date}T{clock}{zone}")
    except ValueError:
        return None
    if stamp.year <= 1:  # Go's zero time: unknown
        return None
    return stamp.timestamp() + (int(fraction.ljust(9, "0")) / 1e9 if fraction else 0.0)


def go_time(text: str) -> float | None:
    """Return unix seconds for Go ``time.Time.String()`` text, e.g.
    ``2018-05-10 13:41:23.123456789 -0500 CDT m=+0.001``; None if it is not one."""
    match = _GO_TIME.match(text.strip())
    return _to_unix(*match.groups()) if match else None


def rfc3339(text: str) -> float | None:
    """Return unix seconds for RFC 3339 text with up to nanoseconds; None for Go's zero
    time or text that is not RFC 3339."""
    match = _RFC3339.match(text.strip())
    if not match:
        return None
    date, clock, fraction, offset = match.groups()
    return _to_unix(date, clock, fraction, "+0000" if offset == "Z" else offset)


def uptime(text: str) -> float | None:
    """Return seconds for Podman's uptime text, e.g. ``4h 13m 2.5s (Approximately 0.17 days)``
    or a Go duration such as ``1h2m3.5s``; None if no duration is found."""
    head = text.split("(", 1)[0].replace(" ", "")
    if not head:
        return None
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(head):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return total if pos == len(head) else None
