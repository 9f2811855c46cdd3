"""Go's text forms of ``time.Time`` and ``time.Duration``, as the 2018 service printed them
(written by the varlink bridge and the simulator, read back by timeparse.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Zone:
    """A fixed time zone as Go names it (abbreviation and offset east of UTC)."""

    abbr: str
    offset_s: int


ZONES = (
    Zone("UTC", 0),
    Zone("CDT", -5 * 3600),
    Zone("EDT", -4 * 3600),
    Zone("CEST", 2 * 3600),
    Zone("IST", 5 * 3600 + 1800),
)


def _frac(value: int, prec: int) -> str:
    """Return ``value / 10**prec`` with trailing zeros (and a bare point) dropped."""
    whole, rest = divmod(value, 10**prec)
    digits = f"{rest:0{prec}d}".rstrip("0") if prec else ""
    return f"{whole}.{digits}" if digits else str(whole)


def go_duration(ns: int) -> str:
    """Return Go's ``Duration.String()``: ``1h2m3.5s``, ``1.5ms``, ``0s``."""
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u == 0:
        return "0s"
    if u < NS:
        if u < 1_000:
            return f"{sign}{u}ns"
        if u < 1_000_000:
            return f"{sign}{_frac(u, 3)}µs"
        return f"{sign}{_frac(u, 6)}ms"
    whole, rest = divmod(u, NS)
    secs = _frac((whole % 60) * NS + rest, 9) + "s"
    minutes, hours = (whole // 60) % 60, whole // 3600
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}"
    if whole >= 60:
        return f"{sign}{minutes}m{secs}"
    return f"{sign}{secs}"


def go_time(epoch_ns: int, zone: Zone, mono_ns: int | None = None) -> str:
    """Return Go's ``Time.String()``: ``2018-05-10 13:41:23.123456789 -0500 CDT``.

    With ``mono_ns`` the monotonic tail Go prints for times taken by ``time.Now()``
    is added (`` m=+3.514072081``).
    """
    secs, nanos = divmod(epoch_ns, NS)
    tz = timezone(timedelta(seconds=zone.offset_s))
    text = datetime.fromtimestamp(secs, UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    sign = "-" if zone.offset_s < 0 else "+"
    hh, mm = divmod(abs(zone.offset_s) // 60, 60)
    offset = f"{sign}{hh:02d}{mm:02d}"
    text += f" {offset} {zone.abbr or offset}"
    if mono_ns is not None:
        m_sign = "-" if mono_ns < 0 else "+"
        m_secs, m_nanos = divmod(abs(mono_ns), NS)
        text += f" m={m_sign}{m_secs}.{m_nanos:09d}"
    return text


def varlink_uptime(uptime_s: float) -> str:
    """Return ``InfoHost.uptime`` as the 2018 service (and Podman before 4.2) built it.

    The Go duration of the uptime (centisecond precision) with a space after ``h``
    and ``m``, plus ``(Approximately N.NN days)`` when it has hours:
    ``4h 13m 2.5s (Approximately 0.17 days)``.
    """
    text = go_duration(round(uptime_s * 100) * (NS // 100))
    spaced = text.replace("h", "h ").replace("m", "m ").replace("m s", "ms")
    if "h" not in text:
        return spaced
    hours = int(text.split("h", 1)[0])
    return f"{spaced} (Approximately {hours / 24:.2f} days)"
