"""Label helpers: HELP texts, short ids, safe label values, container label names."""

from __future__ import annotations

import functools
import re

_INVALID = re.compile(r"[^a-zA-Z0-9_]")
LABEL_PREFIX = "label_"
CONTAINER_INFO_LABELS = ("id", "name", "image", "image_id", "ports", "pod_id", "pod_name")
"""The built-in labels of ``podman_container_info``; no container label takes their names."""

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


def _wanted(key: str, style: str) -> tuple[str, bool]:
    """Return the label name ``key`` asks for under ``style``, and whether it is the key's
    own spelling (those names are given out first, so they never get a suffix).

    prefixed: ``label_`` + the key with invalid characters replaced by ``_``. go: that
    bare replacement, as the Go exporter names it, unless it is empty, starts with a
    digit or ``__`` (not valid or reserved in Prometheus) or is a built-in label of
    ``podman_container_info``: then the prefixed name.
    """
    bare = _INVALID.sub("_", key)
    if style == "go":
        if bare and not bare[0].isdigit() and not bare.startswith("__") \
                and bare not in CONTAINER_INFO_LABELS:
            return bare, bare == key
        return sanitise(key), False
    return sanitise(key), bare == key


@functools.lru_cache(maxsize=32)
def container_label_names(keys: tuple[str, ...],
                          style: str = "prefixed") -> tuple[tuple[str, str], ...]:
    """Return ``(podman key, label name)`` pairs for the chosen container label keys.

    Duplicate keys count once. The rule is deterministic and independent of the
    order of ``keys``:

    1. a key made only of ``[a-zA-Z0-9_]`` gets ``label_<key>`` (style prefixed) or,
       style go, the key itself when that is a valid label name other than a
       built-in one;
    2. the other keys, in code-point order, get the name ``_wanted`` gives (invalid
       characters replaced by ``_``; style go falls back to the ``label_`` name for a
       built-in, reserved or invalid one); when that name is already taken, the
       first free of ``<name>_2``, ``<name>_3`` ...

    With style prefixed, the ``label_`` prefix keeps every name clear of the built-in
    labels; with style go, the fallback does. Pairs are returned in label-name order.
    """
    unique = sorted(set(keys))
    wanted = {key: _wanted(key, style) for key in unique}
    names = {key: name for key, (name, own) in wanted.items() if own}
    taken = set(names.values())
    for key in unique:
        if key in names:
            continue
        base = candidate = wanted[key][0]
        n = 2
        while candidate in taken:
            candidate = f"{base}_{n}"
            n += 1
        names[key] = candidate
        taken.add(candidate)
    return tuple(sorted(names.items(), key=lambda pair: pair[1]))
