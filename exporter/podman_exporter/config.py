"""The exporter's configuration: one frozen object, validated once at start."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

DEFAULT_VARLINK_URLS = (
    "unix:/run/io.projectatomic.podman",
    "unix:/run/podman/io.projectatomic.podman",
)
DEFAULT_REST_URLS = ("unix:///run/podman/podman.sock",)
"""Searched after the varlink paths; ``$XDG_RUNTIME_DIR/podman/podman.sock`` follows."""

APIS = ("auto", "varlink", "rest")
LOG_LEVELS = ("debug", "info", "warn", "error")
LOG_FORMATS = ("logfmt", "json")


class ConfigError(ValueError):
    """A configuration value is invalid; the message is one line naming the flag."""


def parse_duration(text: str) -> float:
    """Return seconds for a Prometheus-style duration such as ``15s``, ``1m30s`` or ``250ms``.

    Raises ValueError with a message naming the bad text.
    """
    value = text.strip()
    pos, total = 0, 0.0
    for match in _DURATION.finditer(value):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not value or pos != len(value):
        raise ValueError(f"invalid duration {text!r} (use e.g. 250ms, 15s, 1m, 1h30m)")
    return total


def parse_listen_address(text: str) -> tuple[str, int]:
    """Return (host, port) for ``:9882``, ``127.0.0.1:9882`` or ``[::1]:9882``; host "" is
    every address."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid listen address {text!r} (use host:port, :port or [v6]:port)")
    if host.startswith("[") != host.endswith("]"):
        raise ValueError(f"invalid listen address {text!r}")
    return host.strip("[]"), int(port)


@dataclass(frozen=True, slots=True)
class Config:
    """Every setting of a running exporter (see the flag table in the README)."""

    listen_addresses: tuple[tuple[str, int], ...] = (("", 9882),)
    telemetry_path: str = "/metrics"
    max_requests: int = 40
    web_config_file: str | None = None
    disable_exporter_metrics: bool = False
    podman_url: str | None = None
    """None: search the default locations."""
    podman_api: str = "auto"
    podman_connections: int = 8
    podman_timeout: float = 5.0
    podman_bridge: str | None = None
    collect_interval: float = 15.0
    collect_max_age: float = 45.0
    collectors: frozenset[str] = frozenset()
    collector_intervals: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({}))
    """Own interval of each collector slower than ``collect_interval``, by name."""
    container_labels: tuple[str, ...] = ()
    admin_token_file: str | None = None
    admin_listen_addresses: tuple[tuple[str, int], ...] = ()
    admin_rate_limit: int = 10
    """Admin actions per minute per client."""
    log_level: str = "info"
    log_format: str = "logfmt"
    demo: bool = False
    demo_socket: str | None = None
    demo_containers: int = 25
