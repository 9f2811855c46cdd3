"""Log set-up: logfmt or JSON lines on stderr."""

from __future__ import annotations

import logging
import sys

from logfmter import Logfmter
from pythonjsonlogger.json import JsonFormatter

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "error": logging.ERROR}


def setup_logging(level: str, fmt: str) -> None:
    """Send every log record at or above ``level`` to stderr in ``fmt`` (logfmt or json)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(
            "{asctime}{levelname}{name}{message}", style="{",
            rename_fields={"asctime": "ts", "levelname": "level", "name": "logger",
                           "message": "msg"}))
    else:
        handler.setFormatter(Logfmter(
            keys=["ts", "level", "logger"],
            mapping={"ts": "asctime", "level": "levelname", "logger": "name"},
            datefmt="%Y-%m-%dT%H:%M:%S%z"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])
    # uvicorn's own access log would log every scrape; errors still come through.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("uvicorn.error").setLevel(max(_LEVELS[level], logging.WARNING))
    logging.getLogger("apscheduler").setLevel(max(_LEVELS[level], logging.WARNING))
