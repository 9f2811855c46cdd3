"""Wiring a Config into a running exporter: backend, collection loop, cache, web server."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.registry import Collector

from podman_exporter import __version__
from podman_exporter.collect.collectors import COLLECTORS
from podman_exporter.collect.loop import CollectionLoop
from podman_exporter.config import Config
from podman_exporter.exposition.render import ExpositionCache
from podman_exporter.logsetup import setup_logging
from podman_exporter.metrics.options import MetricOptions
from podman_exporter.podman.select import BackendSelector
from podman_exporter.web.admin import AdminApp
from podman_exporter.web.admin_guard import load_admin_users
from podman_exporter.web.app import MetricsApp, Router
from podman_exporter.web.asgi import ASGIApp
from podman_exporter.web.auth import (
    BasicAuthMiddleware,
    CredentialChecker,
    ResponseHeadersMiddleware,
)
from podman_exporter.web.server import bind, serve
from podman_exporter.web.tls import build_ssl_context
from podman_exporter.web.webconfig import WebConfig, WebConfigError, load_web_config

log = logging.getLogger("podman_exporter")


def exporter_collectors(config: Config) -> list[Collector]:
    """Return the process/platform/GC collectors, unless exporter metrics are disabled."""
    if config.disable_exporter_metrics:
        return []
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return [registry]


@contextlib.contextmanager
def demo_podman(config: Config) -> Iterator[str]:
    """Run the simulated Podman for --demo; yield its varlink address."""
    from podman_exporter.sim import SimOptions, start_simulator  # noqa: PLC0415 (demo only)

    with contextlib.ExitStack() as stack:
        path = config.demo_socket
        if path is None:
            path = os.path.join(stack.enter_context(tempfile.TemporaryDirectory()), "podman.sock")
        options = dataclasses.replace(SimOptions.demo(), containers=config.demo_containers)
        handle = start_simulator(f"unix:{path}", options)
        stack.callback(handle.stop)
        log.info("demo mode: simulated Podman (%d containers) at unix:%s",
                 config.demo_containers, path)
        yield f"unix:{path}"


def read_token(path: str) -> bytes:
    """Return the admin bearer token in ``path``; raise ValueError if it is unusable."""
    try:
        with open(path, "rb") as handle:
            token = handle.read().strip()
    except OSError as exc:
        raise ValueError(f"--admin.token-file: cannot read {path}: {exc.strerror}") from exc
    if len(token) < 16 or any(b <= 32 or b >= 127 for b in token):
        raise ValueError(f"--admin.token-file: {path} must hold one token of at least 16 "
                         "printable characters")
    return token


def build_app(config: Config, web_config: WebConfig | None, *, cache: ExpositionCache,
              loop: CollectionLoop, backend: BackendSelector, token: bytes | None,
              admin_users: Mapping[str, str] | None = None) -> ASGIApp:
    """Return the root ASGI app: metrics (behind basic auth if configured), admin (only
    with its own credentials: the token and/or the admin users, never the web config's
    users), response headers from the web config."""
    users = web_config.basic_auth_users if web_config is not None else {}
    admin = None
    if token is not None or admin_users:
        admin = AdminApp(backend=backend, on_action=loop.count_admin_action,
                         after_success=loop.trigger, token=token,
                         users=CredentialChecker(admin_users) if admin_users else None,
                         rate_limit=config.admin_rate_limit,
                         failure_limit=config.admin_failure_limit)
    metrics: ASGIApp = MetricsApp(cache, config.telemetry_path, config.max_requests)
    if users:
        metrics = BasicAuthMiddleware(metrics, users)
    app: ASGIApp = Router(metrics, admin,
                          frozenset(port for _, port in config.admin_listen_addresses))
    if web_config is not None and web_config.http_server_config.headers:
        app = ResponseHeadersMiddleware(app, web_config.http_server_config.headers)
    return app


def run(config: Config) -> int:
    """Run the exporter until SIGINT/SIGTERM; return the exit code."""
    setup_logging(config.log_level, config.log_format)
    try:
        web_config = load_web_config(config.web_config_file) if config.web_config_file else None
        ssl_context = build_ssl_context(web_config.tls_server_config) \
            if web_config is not None and web_config.tls_server_config else None
    except WebConfigError as exc:
        log.error("%s", exc)
        return 2
    try:
        token = read_token(config.admin_token_file) if config.admin_token_file else None
        admin_users = load_admin_users(config.admin_users_file) \
            if config.admin_users_file else None
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    try:
        sockets = bind(config.listen_addresses + config.admin_listen_addresses)
    except OSError as exc:
        log.error("%s", exc)
        return 1
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(demo_podman(config)) if config.demo else None
        if config.demo:
            config = dataclasses.replace(config, podman_api="varlink")
        backend = BackendSelector(config, url)
        stack.callback(backend.close)
        cache = ExpositionCache(MetricOptions(container_labels=config.container_labels),
                                exporter_collectors(config))
        loop = CollectionLoop(
            backend=backend,
            collectors=[s for s in COLLECTORS if s.name in config.collectors],
            interval=config.collect_interval,
            max_age=config.collect_max_age,
            publish=cache.publish,
            intervals=config.collector_intervals,
        )
        app = build_app(config, web_config, cache=cache, loop=loop, backend=backend, token=token,
                        admin_users=admin_users)
        loop.start()
        stack.callback(loop.stop)
        log.info("podman-exporter %s listening on %s", __version__,
                 ", ".join(f"{h or '*'}:{p}" for h, p in config.listen_addresses))
        if token is not None or admin_users:
            log.info("admin endpoint listening on %s",
                     ", ".join(f"{h or '*'}:{p}" for h, p in config.admin_listen_addresses))
        serve(app, sockets, ssl_context)
    return 0
