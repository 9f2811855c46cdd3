"""Wiring a Config into a running exporter: backend, collection loop, cache, web server."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import ssl
import tempfile
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.registry import Collector

from podman_exporter import __version__
from podman_exporter.collect.fleet import Fleet
from podman_exporter.collect.watch import (
    dispatch_kernel_oom,
)
from podman_exporter.config import Config
from podman_exporter.exposition.render import ExpositionCache
from podman_exporter.heap import map_large_blocks
from podman_exporter.logsetup import setup_logging
from podman_exporter.metrics.options import MetricOptions
from podman_exporter.podman.endpoints import Endpoint
from podman_exporter.podman.kmsg import KernelOomLog
from podman_exporter.web.admin import AdminApp, AdminTarget
from podman_exporter.web.app import MetricsApp, Router
from podman_exporter.web.asgi import ASGIApp
from podman_exporter.web.auth import (
    BasicAuthMiddleware,
    CredentialChecker,
    ResponseHeadersMiddleware,
)
from podman_exporter.web.reload import Credentials, LiveApp, Reloader, load_credentials
from podman_exporter.web.server import bind, serve
from podman_exporter.web.tls import build_ssl_context
from podman_exporter.web.webconfig import WebConfig

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
def demo_podman(config: Config) -> Iterator[tuple[str, str]]:
    """Run the simulated Podman for --demo; yield its varlink address and the URL of its
    REST event stream."""
    from podman_exporter.sim import SimOptions, start_simulator  # noqa: PLC0415 (demo only)

    with contextlib.ExitStack() as stack:
        path = config.demo_socket
        if path is None:
            path = os.path.join(stack.enter_context(tempfile.TemporaryDirectory()), "podman.sock")
        options = dataclasses.replace(SimOptions.demo(), containers=config.demo_containers)
        handle = start_simulator(f"unix:{path}", options)
        stack.callback(handle.stop)
        events = handle.serve_rest(path + ".events")
        log.info("demo mode: simulated Podman (%d containers) at unix:%s",
                 config.demo_containers, path)
        yield f"unix:{path}", events.url


Targets = Callable[[], Mapping[str, AdminTarget]]
"""Return the endpoints admin actions can act on, by name."""


def fleet_targets(fleet: Fleet) -> Targets:
    """Return the admin targets of the fleet's endpoints, as they are at each call."""
    def targets() -> Mapping[str, AdminTarget]:
        return {name: AdminTarget(w.selector, w.loop.count_admin_action, w.loop.trigger)
                for name, w in fleet.watched().items()}
    return targets


def build_admin(config: Config, *, targets: Targets, token: bytes | None,
                admin_users: Mapping[str, str] | None) -> AdminApp | None:
    """Return the admin app when admin credentials exist (the token and/or the admin
    users, never the web config's users), else None."""
    if token is None and not admin_users:
        return None
    return AdminApp(targets=targets, token=token,
                    users=CredentialChecker(admin_users) if admin_users else None,
                    rate_limit=config.admin_rate_limit,
                    failure_limit=config.admin_failure_limit)


def assemble_app(config: Config, web_config: WebConfig | None, metrics: ASGIApp,
                 admin: AdminApp | None, scrape_users: CredentialChecker | None) -> ASGIApp:
    """Return the root ASGI app: metrics (behind basic auth if there are scrape users),
    admin on its own listeners, response headers from the web config."""
    if scrape_users is not None:
        metrics = BasicAuthMiddleware(metrics, scrape_users)
    app: ASGIApp = Router(metrics, admin,
                          frozenset(port for _, port in config.admin_listen_addresses))
    if web_config is not None and web_config.http_server_config.headers:
        app = ResponseHeadersMiddleware(app, web_config.http_server_config.headers)
    return app


def build_app(config: Config, web_config: WebConfig | None, *, cache: ExpositionCache,
              targets: Targets, token: bytes | None,
              admin_users: Mapping[str, str] | None = None) -> ASGIApp:
    """Return the root ASGI app (see :func:`assemble_app`) with a new admin app."""
    users = web_config.basic_auth_users if web_config is not None else {}
    admin = build_admin(config, targets=targets, token=token, admin_users=admin_users)
    metrics = MetricsApp(cache, config.telemetry_path, config.max_requests)
    return assemble_app(config, web_config, metrics, admin,
                        CredentialChecker(users) if users else None)


def build_live_app(config: Config, current: Credentials, *, cache: ExpositionCache,
                   targets: Targets,
                   ssl_context: ssl.SSLContext | None = None) -> tuple[LiveApp, Reloader]:
    """Return the root app as served (replaced by reloads) and its Reloader (not started)."""
    metrics = MetricsApp(cache, config.telemetry_path, config.max_requests)
    admin = build_admin(config, targets=targets, token=current.token,
                        admin_users=current.admin_users)
    users = current.web_config.basic_auth_users if current.web_config is not None else {}
    scrape = CredentialChecker(users) if users else None

    def assemble(web: WebConfig | None, checker: CredentialChecker | None) -> ASGIApp:
        return assemble_app(config, web, metrics, admin, checker)

    live = LiveApp(assemble(current.web_config, scrape))
    return live, Reloader(config, current, live, assemble, admin=admin, scrape_users=scrape,
                          ssl_context=ssl_context)


def run(config: Config) -> int:
    """Run the exporter until SIGINT/SIGTERM; return the exit code."""
    setup_logging(config.log_level, config.log_format)
    map_large_blocks()
    try:
        current = load_credentials(config)
        web_config = current.web_config
        ssl_context = build_ssl_context(web_config.tls_server_config) \
            if web_config is not None and web_config.tls_server_config else None
    except ValueError as exc:  # WebConfigError too
        log.error("%s", exc)
        return 2
    try:
        sockets = bind(config.listen_addresses + config.admin_listen_addresses)
    except OSError as exc:
        log.error("%s", exc)
        return 1
    with contextlib.ExitStack() as stack:
        events_url = None
        if config.demo:
            url, events_url = stack.enter_context(demo_podman(config))
            config = dataclasses.replace(config, podman_api="varlink",
                                         podman_endpoints=(Endpoint("demo", url),))
        cache = ExpositionCache(MetricOptions(container_labels=config.container_labels,
                                             container_label_style=config.container_label_style,
                                             host_info=config.host_info),
                                exporter_collectors(config), max_age=config.collect_max_age)
        fleet = Fleet(config, cache.publish, cache.forget, events_url=events_url)
        if not config.demo:
            kernel = KernelOomLog(dispatch_kernel_oom(fleet.watches))
            if kernel.start():
                stack.callback(kernel.stop)
        live, reloader = build_live_app(config, current, cache=cache,
                                        targets=fleet_targets(fleet), ssl_context=ssl_context)
        reloader.start()
        stack.callback(reloader.stop)
        # SIGHUP reloads (it used to kill the process); the handler only sets an event.
        previous = signal.signal(signal.SIGHUP, lambda _sig, _frame: reloader.request())
        stack.callback(signal.signal, signal.SIGHUP, previous)
        fleet.start(config.podman_endpoints)
        stack.callback(fleet.stop)
        log.info("podman-exporter %s listening on %s", __version__,
                 ", ".join(f"{h or '*'}:{p}" for h, p in config.listen_addresses))
        if reloader.admin is not None:
            log.info("admin endpoint listening on %s",
                     ", ".join(f"{h or '*'}:{p}" for h, p in config.admin_listen_addresses))
        serve(live, sockets, ssl_context, on_start=reloader.attach)
    return 0
