"""Tolerant reading of Podman's JSON records, shared by the varlink and REST parsers.

A record whose identity (its id) is unusable is dropped. Any other field of the
wrong type, negative where a size is expected, or not finite is read as ``None``
(the series is left out) and noted as a problem; the record itself is kept.
Either way the record counts as bad, and one summary line is logged per reply.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TypeVar

from podman_exporter.podman.backend import PodmanError
from podman_exporter.snapshot.model import EMPTY_LABELS, Batch

log = logging.getLogger(__name__)
T = TypeVar("T")


class MalformedRecord(ValueError):
    """The record cannot be used at all (not an object, or no usable id)."""


class Record:
    """Typed accessors over one JSON object that note, rather than raise on, bad fields."""

    __slots__ = ("_raw", "problems")

    def __init__(self, raw: object) -> None:
        if not isinstance(raw, dict):
            raise MalformedRecord(f"record is {type(raw).__name__}, not an object")
        self._raw: dict[str, object] = raw
        self.problems: list[str] = []

    def _bad(self, key: str, value: object, want: str) -> None:
        self.problems.append(f"{key}: expected {want}, got {_describe(value)}")

    def identity(self, key: str) -> str:
        """Return a non-empty string field; raise MalformedRecord otherwise."""
        value = self._raw.get(key)
        if not isinstance(value, str) or not value:
            raise MalformedRecord(f"{key}: expected a non-empty string, got {_describe(value)}")
        return value

    def raw(self, key: str) -> object:
        """Return a field's value as decoded, unchecked (None when missing)."""
        return self._raw.get(key)

    def names(self) -> list[str]:
        """Return the field names."""
        return list(self._raw)

    def text(self, key: str) -> str:
        """Return a string field, or "" when missing, null or of the wrong type."""
        value = self._raw.get(key)
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        self._bad(key, value, "a string")
        return ""

    def count(self, key: str) -> int | None:
        """Return a non-negative integer field, or None."""
        value = self._raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._bad(key, value, "a non-negative integer")
            return None
        if not _finite(value) or value < 0 or value != int(value):
            self._bad(key, value, "a non-negative integer")
            return None
        return int(value)

    def integer(self, key: str) -> int | None:
        """Return an integer field (any sign), or None."""
        value = self._raw.get(key)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool) and _finite(value):
            return value
        self._bad(key, value, "an integer")
        return None

    def texts(self, key: str) -> tuple[str, ...]:
        """Return a list-of-strings field; non-string entries are dropped and noted."""
        value = self._raw.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list):
            self._bad(key, value, "a list of strings")
            return ()
        good = tuple(v for v in value if isinstance(v, str))
        if len(good) != len(value):
            self._bad(key, value, "a list of strings")
        return good

    def labels(self, key: str) -> Mapping[str, str]:
        """Return a string-to-string map field; other entries are dropped and noted."""
        value = self._raw.get(key)
        if value is None:
            return EMPTY_LABELS
        if not isinstance(value, dict):
            self._bad(key, value, "a map of strings")
            return EMPTY_LABELS
        good = {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}
        if len(good) != len(value):
            self._bad(key, value, "a map of strings")
        return MappingProxyType(good) if good else EMPTY_LABELS

    def records(self, key: str) -> list[Record]:
        """Return a list-of-objects field as Records; other entries are dropped and noted."""
        value = self._raw.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self._bad(key, value, "a list of objects")
            return []
        out = [Record(v) for v in value if isinstance(v, dict)]
        if len(out) != len(value):
            self._bad(key, value, "a list of objects")
        return out

    def sub(self, key: str) -> Record:
        """Return a nested object as a Record sharing this record's problem list."""
        value = self._raw.get(key)
        if value is not None and not isinstance(value, dict):
            self._bad(key, value, "an object")
            value = None
        child = Record(value if isinstance(value, dict) else {})
        child.problems = self.problems
        return child


def _finite(value: int | float) -> bool:
    """Return whether a number is finite and, if an integer, fits Go's int64 or uint64:
    no Podman field is wider, and a larger integer (10**400 would overflow every float
    conversion) is a bad field."""
    if isinstance(value, int):
        return -(2**63) <= value < 2**64
    return math.isfinite(value)


def _describe(value: object) -> str:
    try:
        text = repr(value)
    except ValueError:  # an integer past Python's digit limit
        return f"a {type(value).__name__} too long to show"
    return text if len(text) <= 40 else text[:37] + "..."


def parse_records(reply: object, parse: Callable[[Record], T], kind: str) -> Batch[T]:
    """Return the records of a list reply parsed one by one; bad ones are counted.

    ``null`` is an empty list. A reply that is not a list at all raises PodmanError.
    """
    if reply is None:
        return Batch()
    if not isinstance(reply, list):
        raise PodmanError(f"{kind} reply is {type(reply).__name__}, not a list")
    items: list[T] = []
    bad = 0
    first = ""
    for raw in reply:
        try:
            record = Record(raw)
            item = parse(record)
        except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
            # MalformedRecord is a ValueError; ArithmeticError: a number a parser could not
            # convert (OverflowError) costs this record, never the batch
            bad += 1
            first = first or f"dropped: {exc}"
            continue
        items.append(item)
        if record.problems:
            bad += 1
            first = first or f"kept without {record.problems[0]}"
    if bad:
        log.warning("malformed %s records from Podman: %d of %d (first: %s)",
                    kind, bad, len(reply), first)
    return Batch(tuple(items), bad)
