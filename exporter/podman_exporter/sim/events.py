"""The simulated Podman's event log: the events of Podman 4.3's stream, as it writes them.

Records have Podman 4.3.1's shape and key order (tests/replies/podman-4.3/events.jsonl),
serialised once, compactly, as Go's encoder writes them. The log keeps the last
``capacity`` events; readers follow it by sequence number.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

NS = 1_000_000_000
_RFC3339 = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")
_DECIMAL = re.compile(r"(\d{1,12})(?:\.(\d{1,9}))?")


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One event in the log: what filters look at, and the line sent."""

    seq: int
    time_nano: int
    type: str
    action: str
    id: str
    name: str
    line: bytes


def event_record(kind: str, action: str, ident: str, *, name: str, image: str, time_nano: int,
                 exit_code: int = 0, pod_id: str = "") -> dict[str, object]:
    """Return an event as Podman 4.3.1 sends it on ``/libpod/events`` (keys in its order;
    ``id`` and ``from`` only when there is an id)."""
    record: dict[str, object] = {"status": action}
    if ident:
        record.update({"id": ident, "from": image})
    record.update({
        "Type": kind,
        "Action": action,
        "Actor": {"ID": ident, "Attributes": {"containerExitCode": str(exit_code),
                                              "image": image, "name": name, "podId": pod_id}},
        "scope": "local",
        "time": time_nano // NS,
        "timeNano": time_nano,
    })
    return record


class EventLog:
    """The last ``capacity`` events; thread-safe, ``wait`` wakes on a new event."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._capacity = capacity
        self._events: list[LoggedEvent] = []
        self._seq = 0
        self._changed = threading.Condition()

    def append(self, record: Mapping[str, object]) -> None:
        """Log one record made by ``event_record``."""
        actor = record["Actor"]
        assert isinstance(actor, dict)
        attributes = actor["Attributes"]
        time_nano = record["timeNano"]
        assert isinstance(time_nano, int)
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        with self._changed:
            self._seq += 1
            self._events.append(LoggedEvent(self._seq, time_nano, str(record["Type"]),
                                            str(record["Action"]), str(actor["ID"]),
                                            str(attributes["name"]), line))
            if len(self._events) >= 2 * self._capacity:
                del self._events[: len(self._events) - self._capacity]
            self._changed.notify_all()

    @property
    def last_seq(self) -> int:
        """Return the sequence number of the newest event (0 before any)."""
        return self._seq

    def since(self, time_nano: int | None,
              until: int | None = None) -> tuple[list[LoggedEvent], int]:
        """Return the kept events strictly after ``time_nano`` (all if None) and not after
        ``until``, in log order, with the sequence number of the newest event logged."""
        with self._changed:
            events, seq = self._events[-self._capacity:], self._seq
        return [e for e in events if (time_nano is None or e.time_nano > time_nano)
                and (until is None or e.time_nano <= until)], seq

    def after(self, seq: int, timeout: float) -> list[LoggedEvent]:
        """Return the events after sequence number ``seq``, waiting up to ``timeout``
        seconds for one."""
        with self._changed:
            if self._seq <= seq:
                self._changed.wait(timeout)
            if self._seq <= seq:
                return []
            first = self._events[0].seq if self._events else self._seq + 1
            return self._events[max(0, seq + 1 - first):]

    def __len__(self) -> int:
        with self._changed:
            return min(len(self._events), self._capacity)


def parse_time(text: str) -> int | None:
    """Return unix nanoseconds of RFC 3339 text (up to nanoseconds) or of decimal unix
    seconds (``1700000000.5``); None for anything else."""
    match = _RFC3339.fullmatch(text.strip())
    if match:
        whole, fraction, zone = match.groups()
        stamp = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return int(stamp.timestamp()) * NS + int((fraction or "").ljust(9, "0"))
    match = _DECIMAL.fullmatch(text.strip())
    if match:
        return int(match[1]) * NS + int((match[2] or "").ljust(9, "0"))
    return None


def matches(event: LoggedEvent, filters: Mapping[str, Sequence[str]]) -> bool:
    """Return whether ``event`` passes Podman-style ``filters`` (``type``, ``event``,
    ``container``: a container's name, id or id prefix); several values of a key are
    alternatives."""
    for key, values in filters.items():
        if not values:
            continue
        if key == "type" and event.type not in values:
            return False
        if key == "event" and event.action not in values:
            return False
        if key == "container" and not any(
                v and (v == event.name or event.id.startswith(v)) for v in values):
            return False
    return True
