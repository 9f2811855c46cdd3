"""The recorded Podman 4.3.1 replies and their ground truth, for tests that read them."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

RECORDING = Path(__file__).resolve().parent / "podman-4.3"


@cache
def _load(name: str) -> Any:
    return json.loads((RECORDING / name).read_text())


def body(name: str) -> Any:
    """Return a deep copy of the decoded body of rest/<name>.json."""
    return copy.deepcopy(_load(f"rest/{name}.json")["body"])


def reply(method: str) -> Any:
    """Return a deep copy of the reply of varlink/<method>.json."""
    return copy.deepcopy(_load(f"varlink/{method}.json")["reply"])


def truth() -> dict[str, Any]:
    """Return truth.json (not a copy: do not change it)."""
    found: dict[str, Any] = _load("truth.json")
    return found


def truth_of(cid: str) -> dict[str, Any]:
    """Return the truth of the container with the full id ``cid``."""
    return next(c for c in truth()["containers"] if c["id"] == cid)
