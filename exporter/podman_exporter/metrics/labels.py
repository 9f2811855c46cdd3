"""Label helpers: HELP texts, short ids, safe label values, container label names."""

from __future__ import annotations

import functools
import re

_INVALID = re.compile(r"[^a-zA-Z0-9_]")
_VALID = re.compile(r"[a-zA-Z0-9_]*")
LABEL_PREFIX = "label_"

REFRESH_NOTE = "Refreshed every collection interval, not at scrape time."
MAX_LABEL_VALUE_BYTES = 1024
"""Longest label value exported, in UTF-8 bytes (marker included)."""
TRUNCATED = "\u2026"
"""Ends a label value cut at MAX_LABEL_VALUE_BYTES (the ellipsis, 3 bytes)."""


def help_text(text: str) -> str:
    """Return a HELP text: ``text`` followed by the refresh note."""
    return f"{text} {REFRESH_NOTE}"


def short_id(value: str) -> str:
    """Return the 12-character form of a Podman id (any ``sha256:`` prefix dropped)."""
    return value.removeprefix("sha256:")[:12]


def clean(value: str) -> str:
    """Return ``value`` encodable as UTF-8: lone surrogates (possible after JSON
    decoding of hostile input) become ``?``; a value longer than
    MAX_LABEL_VALUE_BYTES is cut on a character boundary and ends with TRUNCATED;
    everything else is kept as is and escaped by the exposition."""
    if value.isascii():
        if len(value) <= MAX_LABEL_VALUE_BYTES:
            return value
        return value[:MAX_LABEL_VALUE_BYTES - len(TRUNCATED.encode())] + TRUNCATED
    data = value.encode("utf-8", "replace")
    if len(data) <= MAX_LABEL_VALUE_BYTES:
        return data.decode("utf-8")
    keep = data[:MAX_LABEL_VALUE_BYTES - len(TRUNCATED.encode())]
    return keep.decode("utf-8", "ignore") + TRUNCATED


def sanitise(key: str) -> str:
    """Return ``label_`` + ``key`` with every character outside ``[a-zA-Z0-9_]``
    replaced by ``_``."""
    return LABEL_PREFIX + _INVALID.sub("_", key)


@functools.lru_cache(maxsize=32)
def container_label_names(keys: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Return ``(podman key, label name)`` pairs for the chosen container label keys.

    Duplicate keys count once. The rule is deterministic and independent of the
    order of ``keys``:

    1. a key made only of ``[a-zA-Z0-9_]`` is exported as ``label_<key>``;
    2. the other keys, in code-point order, get ``label_<key with invalid
       characters replaced by _>``; when that name is already taken, the
       first free of ``<name>_2``, ``<name>_3`` ...

    The ``label_`` prefix keeps every name clear of the built-in labels.
    Pairs are returned in label-name order.
    """
    unique = sorted(set(keys))
    names: dict[str, str] = {}
    taken: set[str] = set()
    for key in unique:
        if _VALID.fullmatch(key):
            names[key] = LABEL_PREFIX + key
            taken.add(names[key])
    for key in unique:
        if key in names:
            continue
        base = candidate = sanitise(key)
        n = 2
        while candidate in taken:
            candidate = f"{base}_{n}"
            n += 1
        names[key] = candidate
        taken.add(candidate)
    return tuple(sorted(names.items(), key=lambda pair: pair[1]))
