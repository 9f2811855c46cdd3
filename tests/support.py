"""Helpers shared by the test suites: required tools and modules, free ports.

A real component that is missing (Podman, Prometheus, promtool, a test dependency)
fails the test in CI (``CI=true``) and skips it elsewhere, with the reason.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import NoReturn

import pytest


def unavailable(reason: str) -> NoReturn:
    """Fail the test (CI) or skip it (elsewhere; at module level too) for ``reason``."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI needs it: ./scripts/test installs it)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_tool(name: str) -> str:
    """Return the path of a command (the virtualenv's first); see unavailable()."""
    venv_bin = Path(sys.prefix) / "bin" / name
    found = str(venv_bin) if venv_bin.exists() else shutil.which(name)
    if found is None:
        unavailable(f"{name} is not installed")
    return found


def require_modules(*names: str) -> None:
    """Return when every named Python module can be imported; see unavailable()."""
    for name in names:
        if importlib.util.find_spec(name) is None:
            unavailable(f"{name} is not installed (pip install -e '.[test]')")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
