"""Podman's events: the record, its parser, and where a reconnected stream resumes.

Podman's event stream (``GET /libpod/events?stream=true``, read by
``podman.event_stream.EventStream``) is one JSON object per line: ``Type``, ``Action``
(and the older ``status``), ``Actor.ID``, ``Actor.Attributes`` with ``name``, ``image``,
``podId`` and ``containerExitCode`` as text, ``time`` and ``timeNano``, and
``HealthStatus`` on ``health_status`` events; see
tests/replies/podman-4.3/events.jsonl.

Resuming: ``since`` is sent as RFC 3339 with nanoseconds (Podman parses a decimal
``sec.nsec`` as a float64, off by up to ~240 ns today), and Podman returns the
events strictly after it. Podman's event log is written by several processes, so an
event can be logged up to ~80 ms after a later-stamped one (the ``image pull`` of
``podman run`` after its container's ``create``). The stream therefore resumes
``lookback`` before the newest event seen and drops the replayed events it already
delivered: it keeps the keys (timeNano, type, action, id, name) of that window, with
their counts, since several events can share a timeNano.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass

from podman_exporter.podman.fields import MalformedRecord, Record

EventKey = tuple[int, str, str, str, str]
_EXIT_CODE = re.compile(r"-?[0-9]{1,10}")


@dataclass(frozen=True, slots=True)
class Event:
    """One Podman event. ``action`` is ``died``, ``restart``, ``create`` ...; ``id`` the
    full id of the container (pod, image) or "" when Podman names none."""

    type: str
    action: str
    id: str
    time_nano: int
    name: str = ""
    image: str = ""
    pod_id: str = ""
    exit_code: int | None = None
    """``containerExitCode`` (Podman sends "0" on every event but ``died``)."""
    health: str = ""
    """``HealthStatus`` of a ``health_status`` event (``healthy``, ``starting`` ...)."""

    @property
    def key(self) -> EventKey:
        """Return what tells this event apart when a resumed stream replays it."""
        return (self.time_nano, self.type, self.action, self.id, self.name)


def parse_event(line: bytes | str) -> Event:
    """Return the Event of one line of Podman's event stream.

    Raises ValueError when the line is not a JSON object with a type, an action and a
    time; other fields of the wrong type are read as empty.
    """
    try:
        raw = json.loads(line)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedRecord(f"not JSON: {exc}") from None
    record = Record(raw)
    kind = record.text("Type") or record.text("type")
    action = record.text("Action") or record.text("status") or record.text("Status")
    nano = record.count("timeNano")
    if nano is None:
        seconds = record.count("time")
        nano = None if seconds is None else seconds * 1_000_000_000
    if not kind or not action or nano is None:
        raise MalformedRecord("event without Type, Action or time")
    actor = record.sub("Actor")
    attributes = actor.labels("Attributes")
    code = attributes.get("containerExitCode", "")
    return Event(
        type=kind,
        action=action,
        id=actor.text("ID") or record.text("id"),
        time_nano=nano,
        name=attributes.get("name", ""),
        image=attributes.get("image", "") or record.text("from"),
        pod_id=attributes.get("podId", ""),
        exit_code=int(code) if _EXIT_CODE.fullmatch(code) else None,
        health=record.text("HealthStatus"),
    )


def rfc3339_nano(nano: int) -> str:
    """Return unix nanoseconds as RFC 3339 UTC text with all nine digits, as Podman's
    ``since`` reads exactly."""
    seconds, rest = divmod(nano, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest:09d}Z"


class Resume:
    """Where a reconnected stream resumes, and which replayed events to drop. Not
    thread-safe: used by the stream's own thread."""

    def __init__(self, lookback_ns: int) -> None:
        self._lookback = lookback_ns
        self._newest: int | None = None
        self._floor: int | None = None
        self._window: Counter[EventKey] = Counter()
        self._skip: Counter[EventKey] = Counter()
        self._pruned_at = 0

    def since(self) -> int | None:
        """Return the nanosecond time to resume after; None before the first connection."""
        if self._newest is None:
            return self._floor
        since = self._newest - self._lookback
        return since if self._floor is None else max(since, self._floor)

    def connected(self, now_ns: int) -> None:
        """Note a new connection at ``now_ns``: replayed events seen before are dropped.
        The first connection (no ``since``) starts the stream at ``now_ns``."""
        if self._newest is None and self._floor is None:
            self._floor = now_ns
        since = self.since()
        self._skip = Counter(
            {k: n for k, n in self._window.items() if since is None or k[0] > since}
        )

    def accept(self, event: Event) -> bool:
        """Return False for an event delivered before the reconnection, else record it and
        return True."""
        key = event.key
        if self._skip[key] > 0:
            self._skip[key] -= 1
            return False
        self._window[key] += 1
        if self._newest is None or event.time_nano > self._newest:
            self._newest = event.time_nano
        if len(self._window) >= 2 * self._pruned_at + 1024:
            cutoff = self._newest - self._lookback
            self._window = Counter({k: n for k, n in self._window.items() if k[0] > cutoff})
            self._pruned_at = len(self._window)
        return True
