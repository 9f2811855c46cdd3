"""The exporter's configuration: one frozen object, validated once at start."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from podman_exporter.podman.endpoints import Endpoint

_UNITS = (("y", 365 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60),
          ("s", 1), ("ms", 0.001))
_DURATION = re.compile("".join(f"(?:(?P<{'ms_' if u == 'ms' else u}>[0-9]+){u})?"
                               for u, _ in _UNITS))
"""Prometheus' model.ParseDuration: integers, units in decreasing order, each at most once."""

DEFAULT_VARLINK_URLS = (
    "unix:/run/io.projectatomic.podman",
    "unix:/run/podman/io.projectatomic.podman",
)
DEFAULT_ADMIN_LISTEN_ADDRESS = ("127.0.0.1", 9883)
"""Where /admin is served when admin credentials are set without --admin.listen-address."""
DEFAULT_REST_URLS = ("unix:///run/podman/podman.sock",)
"""Searched after the varlink paths; ``$XDG_RUNTIME_DIR/podman/podman.sock`` follows."""

_ASCII_NUMBER = re.compile(r"[0-9]+")
APIS = ("auto", "varlink", "rest")
LOG_LEVELS = ("debug", "info", "warn", "error")
LOG_FORMATS = ("logfmt", "json")
CONTAINER_LABEL_STYLES = ("prefixed", "go")
"""Names of exported container labels: ``label_<key>``, or the key itself as the Go
exporter names them (metrics/labels.py)."""


class ConfigError(ValueError):
    """A configuration value is invalid; the message is one line naming the flag."""


def is_ascii_number(text: str) -> bool:
    """Return whether ``text`` is one or more ASCII digits 0-9 and nothing else (str.isdigit
    and int() also accept other scripts' digits, such as full-width U+FF11 U+FF12)."""
    return _ASCII_NUMBER.fullmatch(text) is not None


def parse_duration(text: str) -> float:
    """Return seconds for a Prometheus-style duration such as ``15s``, ``1m30s`` or ``250ms``.

    As Prometheus' model.ParseDuration: integer amounts, units among y w d h m s ms in
    that order, each at most once; ``0`` alone is zero. Raises ValueError naming the text.
    """
    value = text.strip()
    if value == "0":
        return 0.0
    match = _DURATION.fullmatch(value)
    if not value or match is None:
        raise ValueError(f"invalid duration {text!r} (use e.g. 250ms, 15s, 1m, 1h30m: "
                         "whole numbers, units y w d h m s ms in that order, each once)")
    total_ms = sum(int(match.group("ms_" if u == "ms" else u)) * round(factor * 1000)
                   for u, factor in _UNITS if match.group("ms_" if u == "ms" else u))
    return total_ms / 1000


def check_podman_url(url: str, api: str) -> None:
    """Raise ValueError (one line) unless ``url`` is a Podman address the ``api`` can use:
    ``unix:/path`` or ``unix:///path`` (absolute path, no host), ``ssh://`` for REST,
    or, for varlink, ``unix:@abstract`` and ``tcp:host:port``."""
    if url.startswith("unix:"):
        rest = url[5:].split(";", 1)[0]
        if rest.startswith("@") and len(rest) > 1 and api != "rest":
            return
        if rest.startswith("//"):
            host, _, path = rest[2:].partition("/")
            if host:
                raise ValueError(f"{url!r} names host {host!r}; a unix socket needs an "
                                 f"absolute path, e.g. unix:///{host}/{path}")
            rest = "/" + path
        if rest.startswith("/") and rest.strip("/"):
            return
        raise ValueError(f"{url!r} needs an absolute socket path (unix:///path/to/podman.sock)")
    if url.startswith("tcp:"):
        if api == "rest":
            raise ValueError(f"{url!r}: the REST API is served on a unix socket "
                             "(unix:///path/to/podman.sock); tcp: is for varlink")
        host, sep, port = url[4:].rpartition(":")
        if sep and host.strip("[]") and "/" not in host and is_ascii_number(port) \
                and 0 < int(port) <= 65535:
            return
        raise ValueError(f"invalid varlink address {url!r} (use tcp:host:port)")
    if url.startswith("ssh://"):
        if api == "varlink":
            raise ValueError(f"{url!r}: ssh:// reaches Podman's REST API; for varlink over "
                             "ssh use --podman.bridge")
        return
    raise ValueError(f"unsupported Podman URL {url!r} (use unix:///path/to/podman.sock, "
                     "unix:/path, ssh://user@host/path/podman.sock or tcp:host:port)")


def parse_listen_address(text: str) -> tuple[str, int]:
    """Return (host, port) for ``:9882``, ``127.0.0.1:9882`` or ``[::1]:9882``; host "" is
    every address."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not is_ascii_number(port) or not 0 <= int(port) <= 65535:
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
    podman_endpoints: tuple[Endpoint, ...] = ()
    """The Podmans to watch (``--podman.url [NAME=]URL``); an endpoint with URL "" searches
    the default sockets."""
    podman_discover_rootless: bool = False
    """Watch every user's rootless socket under /run/user too, as they come and go."""
    podman_ssh_identity: str = ""
    podman_ssh_known_hosts: str = ""
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
    container_label_style: str = "prefixed"
    """``prefixed`` (``label_<key>``) or ``go`` (the key itself, as the Go exporter)."""
    host_info: bool = True
    """Export podman_host_info, podman_store_info and podman_version_info (hostname,
    kernel, versions, storage paths: unauthenticated /metrics discloses them)."""
    admin_token_file: str | None = None
    admin_users_file: str | None = None
    """Admin users (web config format, basic_auth_users only); never the scrape users."""
    admin_listen_addresses: tuple[tuple[str, int], ...] = ()
    """Where /admin is served; 127.0.0.1:9883 when admin credentials are set without it."""
    admin_rate_limit: int = 10
    """Authenticated admin actions per minute per client."""
    admin_failure_limit: int = 10
    """Failed admin authentications per minute per client before 429."""
    log_level: str = "info"
    log_format: str = "logfmt"
    demo: bool = False
    demo_socket: str | None = None
    demo_containers: int = 25
