"""Flag machinery: typed flag values, one-line errors, and flags from the environment.

Every flag can also come from the environment as ``PODMAN_EXPORTER_<FLAG>`` (upper
case, dots and dashes as underscores; repeatable flags comma-separated, switches
``true``/``false``); the command line wins, also for repeatable flags.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any, NoReturn

from podman_exporter.config import is_ascii_number, parse_duration, parse_listen_address

ENV_PREFIX = "PODMAN_EXPORTER_"


class ReplacingAppend(argparse._AppendAction):
    """``append`` whose first value on the command line replaces the default (which may
    come from the environment) instead of adding to it: the command line wins."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        if getattr(namespace, self.dest, None) is self.default:
            setattr(namespace, self.dest, None)
        super().__call__(parser, namespace, values, option_string)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit code 2, and whose repeatable
    flags given on the command line replace their environment value."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", "append", ReplacingAppend)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def env_name(flag: str) -> str:
    """Return the environment variable for a flag, e.g. PODMAN_EXPORTER_WEB_LISTEN_ADDRESS."""
    return ENV_PREFIX + flag.lstrip("-").upper().replace(".", "_").replace("-", "_")


def typed(parse: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc) or f"invalid {what} {text!r}") from exc

    convert.__name__ = what
    return convert


def _positive_int(text: str) -> int:
    if not is_ascii_number(text):  # int() also takes full-width digits, ' 12', '1_2' and '+12'
        raise ValueError(f"invalid count {text!r} (use ASCII digits 0-9)")
    value = int(text)
    if value < 1:
        raise ValueError(f"must be at least 1, got {text!r}")
    return value


def _positive_duration(text: str) -> float:
    value = parse_duration(text)
    if value <= 0:
        raise ValueError(f"duration must be above zero, got {text!r}")
    return value


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"invalid boolean {text!r} (use true or false)")


DURATION = typed(_positive_duration, "duration")
COUNT = typed(_positive_int, "count")
ADDRESS = typed(parse_listen_address, "listen address")


def duration_text(seconds: float) -> str:
    """Return ``300`` as ``5m``, ``90`` as ``90s``."""
    return f"{seconds / 60:g}m" if seconds % 60 == 0 else f"{seconds:g}s"


def apply_environment(parser: argparse.ArgumentParser) -> None:
    """Use PODMAN_EXPORTER_* variables as defaults; values are checked like flags."""
    for action in parser._actions:
        flags = [o for o in action.option_strings if o.startswith("--") and o != "--help"]
        if not flags or action.dest in ("help", "version"):
            continue
        raw = os.environ.get(env_name(flags[0]))
        if raw is None:
            continue
        try:
            if action.nargs == 0 or isinstance(action, argparse.BooleanOptionalAction):
                value: Any = parse_bool(raw)
            else:
                convert: Callable[[str], Any] = action.type if callable(action.type) else str
                if isinstance(action, argparse._AppendAction):
                    value = [convert(v) for v in raw.split(",") if v]
                else:
                    value = convert(raw)
                if action.choices is not None and value not in action.choices:
                    raise ValueError(f"invalid choice {raw!r} (choose from "
                                     f"{', '.join(map(str, action.choices))})")
        except (ValueError, argparse.ArgumentTypeError) as exc:
            parser.error(f"{env_name(flags[0])}: {exc}")
        action.default = value
