"""Command line: Prometheus-style dotted flags -> one validated Config; subcommands.

Every flag can also come from the environment as ``PODMAN_EXPORTER_<FLAG>``
(upper case, dots and dashes as underscores; repeatable flags comma-separated,
switches ``true``/``false``). A bad value prints one line and exits with code 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import Any

from podman_exporter import __version__
from podman_exporter.collect.collectors import COLLECTORS
from podman_exporter.config import (
    APIS,
    CONTAINER_LABEL_STYLES,
    DEFAULT_ADMIN_LISTEN_ADDRESS,
    LOG_FORMATS,
    LOG_LEVELS,
    Config,
    ConfigError,
    check_podman_url,
)
from podman_exporter.flags import (
    ADDRESS,
    COUNT,
    DURATION,
    ENV_PREFIX,
    Parser,
    apply_environment,
    duration_text,
)
from podman_exporter.podman.endpoints import Endpoint, check_unique, parse_endpoint, user_name
from podman_exporter.podman.ssh_tunnel import SshTarget
from podman_exporter.runner import run
from podman_exporter.web.admin_guard import read_token

PROG = "podman-exporter"
MIN_DEFAULT_MAX_AGE = 300.0
"""Shortest default ``--collect.max-age``: a Podman outage shorter than this keeps the
last known series, so alerts on them neither resolve nor restart their ``for:``."""


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the exporter's flags (defaults before the environment)."""
    p = Parser(prog=PROG, description="Prometheus exporter for Podman.",
                epilog="Subcommands: simulate, varlink-bridge (see '<subcommand> --help'). "
                f"Every flag can be set from the environment as {ENV_PREFIX}<FLAG>.")
    web = p.add_argument_group("web")
    web.add_argument("--web.listen-address", action="append", type=ADDRESS, metavar="ADDR",
                     help="address to listen on for metrics, repeatable (default: :9882)")
    web.add_argument("--web.telemetry-path", default="/metrics", metavar="PATH",
                     help="path under which to expose metrics (default: %(default)s)")
    web.add_argument("--web.max-requests", type=COUNT, default=40, metavar="N",
                     help="concurrent requests served; more get 503 (default: %(default)s)")
    web.add_argument("--web.config.file", metavar="FILE",
                     help="exporter-toolkit web config (TLS, basic auth, headers)")
    web.add_argument("--web.disable-exporter-metrics", action="store_true",
                     help="leave out process_* and python_* metrics")
    podman = p.add_argument_group("podman")
    podman.add_argument("--podman.url", action="append", metavar="[NAME=]URL",
                        help="a Podman to watch, repeatable: REST socket "
                        "(unix:///path/podman.sock), ssh://user@host[:port]/path/podman.sock, "
                        "or varlink address (unix:/path, tcp:host:port); NAME is its "
                        "endpoint label (default: derived from the URL); without any: "
                        "search the usual sockets")
    podman.add_argument("--podman.discover-rootless", action=argparse.BooleanOptionalAction,
                        default=False,
                        help="also watch every user's rootless socket "
                        "(/run/user/UID/podman/podman.sock) as they appear and go "
                        "(default: off)")
    podman.add_argument("--podman.ssh-identity", default="", metavar="FILE",
                        help="private key for ssh:// endpoints (or ?identity= in the URL)")
    podman.add_argument("--podman.ssh-known-hosts", default="", metavar="FILE",
                        help="known-hosts file checked for ssh:// endpoints (or "
                        "?known_hosts= in the URL)")
    podman.add_argument("--podman.api", choices=APIS, default="auto",
                        help="API the socket speaks; auto detects it (default: %(default)s)")
    podman.add_argument("--podman.connections", type=COUNT, default=8, metavar="N",
                        help="connections to Podman kept open and used at once, REST or "
                        "varlink (default: %(default)s)")
    podman.add_argument("--podman.timeout", type=DURATION, default=5.0, metavar="DURATION",
                        help="timeout of one call to Podman (default: 5s)")
    podman.add_argument("--podman.bridge", metavar="COMMAND",
                        help="varlink bridge command, e.g. 'ssh host -- varlink bridge'")
    collect = p.add_argument_group("collection")
    collect.add_argument("--collect.interval", type=DURATION, default=15.0, metavar="DURATION",
                         help="time between collections (default: 15s)")
    collect.add_argument("--collect.max-age", type=DURATION, metavar="DURATION",
                         help="serve Podman series up to this old while Podman or a collector "
                         "fails, then drop them (default: 5m or 3 x interval, the larger)")
    for spec in COLLECTORS:
        collect.add_argument(f"--collector.{spec.name}", action=argparse.BooleanOptionalAction,
                             default=spec.default,
                             help=f"collect {spec.help} (default: "
                             f"{'enabled' if spec.default else 'disabled'})")
        if spec.interval is not None:
            collect.add_argument(f"--collector.{spec.name}.interval", type=DURATION,
                                 default=spec.interval, metavar="DURATION",
                                 help=f"time between runs of the {spec.name} collector "
                                 f"(default: {duration_text(spec.interval)})")
    collect.add_argument("--collector.container.labels", default="", metavar="KEYS",
                         help="comma-separated container label keys exported on "
                         "podman_container_info, named as --collector.container.labels.style "
                         "says")
    collect.add_argument("--collector.container.labels.style", choices=CONTAINER_LABEL_STYLES,
                         default="prefixed",
                         help="names of the exported container labels: prefixed is "
                         "label_<key>; go is the key itself, as the Go exporter names it "
                         "(label_<key> where the key is a built-in label such as name or id) "
                         "(default: %(default)s)")
    collect.add_argument("--collector.host.info", action=argparse.BooleanOptionalAction,
                         default=True,
                         help="export podman_host_info, podman_store_info, "
                         "podman_version_info and podman_system_*_version (hostname, kernel, "
                         "versions, storage paths); --no-collector.host.info leaves them out "
                         "(default: enabled)")
    admin = p.add_argument_group("admin")
    admin.add_argument("--admin.token-file", metavar="FILE",
                       help="bearer token enabling the admin endpoint (mode 0600, owned "
                       "by the exporter's user or root, at least 16 characters and 64 bits; "
                       "re-read on SIGHUP and when it changes)")
    admin.add_argument("--admin.users-file", metavar="FILE",
                       help="admin users enabling the admin endpoint: a web config file "
                       "holding only basic_auth_users (the scrape users are never admins)")
    admin.add_argument("--admin.listen-address", action="append", type=ADDRESS, metavar="ADDR",
                       help="address serving /admin (and nothing else), repeatable; never "
                       "a web listen address (default: 127.0.0.1:9883)")
    admin.add_argument("--admin.rate-limit", type=COUNT, default=10, metavar="N",
                       help="authenticated admin actions per minute per client "
                       "(default: %(default)s)")
    admin.add_argument("--admin.failure-limit", type=COUNT, default=10, metavar="N",
                       help="failed admin authentications per minute per client before "
                       "it is answered 429 (default: %(default)s)")
    misc = p.add_argument_group("other")
    misc.add_argument("--log.level", choices=LOG_LEVELS, default="info",
                      help="minimum level logged (default: %(default)s)")
    misc.add_argument("--log.format", choices=LOG_FORMATS, default="logfmt",
                      help="log line format (default: %(default)s)")
    misc.add_argument("--demo", action="store_true",
                      help="watch a simulated Podman started inside the exporter")
    misc.add_argument("--demo.socket", metavar="PATH",
                      help="socket of the demo's simulated Podman (default: a private temp path)")
    misc.add_argument("--demo.containers", type=COUNT, default=25, metavar="N",
                      help="containers in the demo fleet (default: %(default)s)")
    misc.add_argument("--version", action="version",
                      version=f"{PROG} {__version__} (python {platform.python_version()})")
    apply_environment(p)
    return p


def _check_token_file(path: str) -> None:
    """Refuse at start a token file others can read, another user owns, or a weak token."""
    try:
        read_token(path)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def config_from_args(ns: argparse.Namespace) -> Config:
    """Return the validated Config of parsed flags; raise ConfigError (one line) if invalid."""
    values = vars(ns)

    def opt(flag: str) -> Any:
        return values[flag.replace("-", "_")]

    interval = opt("collect.interval")
    max_age = opt("collect.max-age") if opt("collect.max-age") is not None \
        else max(MIN_DEFAULT_MAX_AGE, 3 * interval)
    if max_age < interval:
        raise ConfigError(f"--collect.max-age ({max_age:g}s) must be at least "
                          f"--collect.interval ({interval:g}s)")
    path = opt("web.telemetry-path")
    if not path.startswith("/") or path in ("/", "/healthz", "/readyz") or path.startswith(
            "/admin"):
        raise ConfigError(f"--web.telemetry-path: {path!r} must start with / and not be "
                          "/, /healthz, /readyz or under /admin")
    enabled = frozenset(s.name for s in COLLECTORS if opt(f"collector.{s.name}"))
    for spec in COLLECTORS:
        missing = [r for r in spec.requires if r not in enabled]
        if spec.name in enabled and missing:
            raise ConfigError(f"--collector.{spec.name} needs --collector.{missing[0]}")
    intervals = {s.name: opt(f"collector.{s.name}.interval") for s in COLLECTORS
                 if s.interval is not None}
    for name, own in intervals.items():
        if own < interval:
            raise ConfigError(f"--collector.{name}.interval ({own:g}s) must be at least "
                              f"--collect.interval ({interval:g}s)")
    labels = tuple(k.strip() for k in opt("collector.container.labels").split(",") if k.strip())
    if opt("admin.token-file"):
        _check_token_file(opt("admin.token-file"))
    endpoints = _endpoints(opt)
    web_ports = {port for _, port in opt("web.listen-address") or [("", 9882)]}
    admin_enabled = bool(opt("admin.token-file") or opt("admin.users-file"))
    admin_addresses = tuple(opt("admin.listen-address") or (
        [DEFAULT_ADMIN_LISTEN_ADDRESS] if admin_enabled else []))
    shared = web_ports & {port for _, port in admin_addresses}
    if shared:
        raise ConfigError(f"--admin.listen-address must use other ports than "
                          f"--web.listen-address (both use {min(shared)})")
    if opt("podman.bridge") and opt("podman.api") == "rest":
        raise ConfigError("--podman.bridge speaks varlink; it cannot go with --podman.api=rest")
    if opt("podman.bridge") and (len(endpoints) > 1 or opt("podman.discover-rootless")):
        raise ConfigError("--podman.bridge reaches one Podman: it cannot go with several "
                          "--podman.url or --podman.discover-rootless")
    return Config(
        listen_addresses=tuple(opt("web.listen-address") or [("", 9882)]),
        telemetry_path=path,
        max_requests=opt("web.max-requests"),
        web_config_file=opt("web.config.file"),
        disable_exporter_metrics=opt("web.disable-exporter-metrics"),
        podman_endpoints=endpoints,
        podman_discover_rootless=opt("podman.discover-rootless"),
        podman_ssh_identity=opt("podman.ssh-identity"),
        podman_ssh_known_hosts=opt("podman.ssh-known-hosts"),
        podman_api=opt("podman.api"),
        podman_connections=opt("podman.connections"),
        podman_timeout=opt("podman.timeout"),
        podman_bridge=opt("podman.bridge"),
        collect_interval=interval,
        collect_max_age=max_age,
        collectors=enabled,
        collector_intervals=MappingProxyType(intervals),
        container_labels=labels,
        container_label_style=opt("collector.container.labels.style"),
        host_info=opt("collector.host.info"),
        admin_token_file=opt("admin.token-file"),
        admin_users_file=opt("admin.users-file"),
        admin_listen_addresses=admin_addresses,
        admin_rate_limit=opt("admin.rate-limit"),
        admin_failure_limit=opt("admin.failure-limit"),
        log_level=opt("log.level"),
        log_format=opt("log.format"),
        demo=opt("demo"),
        demo_socket=opt("demo.socket"),
        demo_containers=opt("demo.containers"),
    )


def default_endpoint_name() -> str:
    """Return the endpoint name when no --podman.url is given: ``root`` for root (the
    rootful sockets are searched first), else the user's login name."""
    uid = os.getuid()
    return "root" if uid == 0 else user_name(uid)


def _endpoints(opt: Callable[[str], Any]) -> tuple[Endpoint, ...]:
    """Return the endpoints of --podman.url, checked; one searching the default sockets
    when none is given (and rootless discovery is off)."""
    found = []
    for text in opt("podman.url") or []:
        try:
            endpoint = parse_endpoint(text)
            check_podman_url(endpoint.url, opt("podman.api"))
            if endpoint.url.startswith("ssh://"):
                SshTarget.parse(endpoint.url, opt("podman.ssh-identity"),
                                opt("podman.ssh-known-hosts"))
        except ValueError as exc:
            raise ConfigError(f"--podman.url: {exc}") from exc
        found.append(endpoint)
    try:
        check_unique(found)
    except ValueError as exc:
        raise ConfigError(f"--podman.url: {exc}") from exc
    if not found and not opt("podman.discover-rootless"):
        found.append(Endpoint(default_endpoint_name(), ""))
    return tuple(found)


def _subcommand(name: str, argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} {name}")
    module = importlib.import_module(SUBCOMMANDS[name])
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(argv)))


SUBCOMMANDS = {"simulate": "podman_exporter.sim.cli",
               "varlink-bridge": "podman_exporter.podman.bridge"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the exporter (or a subcommand); return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in SUBCOMMANDS:
        return _subcommand(args[0], args[1:])
    parser = build_parser()
    try:
        config = config_from_args(parser.parse_args(args))
    except ConfigError as exc:
        parser.error(str(exc))
    return run(config)
