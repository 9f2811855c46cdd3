"""The Podman endpoints being watched: one collection loop, backend and event source each.

Endpoints are collected concurrently and apart: each has its own schedule, timeouts,
max-age and threads, so a slow, hung or dead one never delays or drops another's
series. The configured endpoints are watched from the start; with rootless discovery,
every user's socket under /run/user is looked for every ``DISCOVER_INTERVAL`` seconds:
a socket that appears is watched, one that goes is dropped with its series.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from podman_exporter.collect.collectors import COLLECTORS
from podman_exporter.collect.loop import CollectionLoop
from podman_exporter.collect.watch import EventSource, EventWatch, ListingEvents
from podman_exporter.config import Config
from podman_exporter.podman.backend import PodmanBackend
from podman_exporter.podman.endpoints import Endpoint, rootless_endpoints
from podman_exporter.podman.rest import RestBackend
from podman_exporter.podman.select import BackendSelector, socket_path
from podman_exporter.snapshot.snapshot import Snapshot

log = logging.getLogger(__name__)

DISCOVER_INTERVAL = 10.0
"""Seconds between two looks for rootless sockets."""


@dataclass(frozen=True, slots=True)
class Watched:
    """One endpoint being watched."""

    endpoint: Endpoint
    selector: BackendSelector
    loop: CollectionLoop


class Fleet:
    """Starts, holds and stops the watched endpoints (see the module docstring)."""

    def __init__(self, config: Config, publish: Callable[[Snapshot], None],
                 forget: Callable[[str], None], *, events_url: str | None = None,
                 runtime_root: str = "/run/user") -> None:
        self._config = config
        self._publish = publish
        self._forget = forget
        self._events_url = events_url
        """The demo's event stream (its simulated Podman speaks varlink)."""
        self._runtime_root = runtime_root
        self._watched: dict[str, Watched] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._discovery: threading.Thread | None = None
        self._watches: dict[str, EventWatch] = {}
        """The event watch of each endpoint watched now that has one."""

    def start(self, endpoints: tuple[Endpoint, ...]) -> None:
        """Watch ``endpoints`` (their collections spread evenly over one interval), and
        discover rootless sockets if configured."""
        begun = datetime.now(UTC)
        for i, endpoint in enumerate(endpoints):
            spread = timedelta(seconds=self._config.collect_interval * i / len(endpoints))
            self._add(endpoint, begun + spread)
        if self._config.podman_discover_rootless:
            self.discover()
            self._discovery = threading.Thread(target=self._discover_forever,
                                               name="discover-rootless", daemon=True)
            self._discovery.start()

    def names(self) -> list[str]:
        """Return the names of the endpoints watched now."""
        with self._lock:
            return sorted(self._watched)

    def watches(self) -> list[EventWatch]:
        """Return the event watches of the endpoints watched now (the kernel's OOM reports
        go to them all)."""
        with self._lock:
            return list(self._watches.values())

    def watched(self) -> Mapping[str, Watched]:
        """Return the endpoints watched now, by name."""
        with self._lock:
            return MappingProxyType(dict(self._watched))

    def _add(self, endpoint: Endpoint, first: datetime | None = None) -> None:
        """Watch one endpoint, its first collection at ``first`` (None: now)."""
        config = self._config
        selector = BackendSelector(config, endpoint.url or None)
        holder: list[CollectionLoop] = []

        def events_for(backend: PodmanBackend) -> EventSource:
            return self._events_source(endpoint.name, backend, holder[0],
                                       local=not selector.remote)

        loop = CollectionLoop(
            backend=selector,
            collectors=[s for s in COLLECTORS if s.name in config.collectors],
            interval=config.collect_interval,
            max_age=config.collect_max_age,
            publish=self._publish,
            intervals=config.collector_intervals,
            events_for=events_for,
            endpoint=endpoint.name,
            where=lambda: selector.url,
            first=first,
        )
        holder.append(loop)
        with self._lock:
            self._watched[endpoint.name] = Watched(endpoint, selector, loop)
        loop.start()
        log.info("watching endpoint %s at %s", endpoint.name,
                 endpoint.url or "the default sockets")

    def _events_source(self, name: str, backend: PodmanBackend, loop: CollectionLoop, *,
                       local: bool) -> EventSource:
        """Return what counts an endpoint's events: an EventWatch on the REST event stream
        (memory cgroups read when Podman is on this host), counts derived from listings
        on varlink."""
        url = self._events_url
        if url is None and isinstance(backend, RestBackend):
            url = backend.url
        if url is None:
            return ListingEvents()
        watch = EventWatch(url, loop.trigger, read_cgroups=self._events_url is None and local
                           and socket_path(url) is not None)
        watch.start()
        with self._lock:
            watched = self._watched.get(name)
            if watched is not None and watched.loop is loop:  # not dropped meanwhile
                self._watches[name] = watch
        return watch

    def _remove(self, name: str) -> None:
        with self._lock:
            watched = self._watched.pop(name, None)
            self._watches.pop(name, None)
        if watched is None:
            return
        watched.loop.stop()
        watched.selector.close()
        self._forget(name)
        log.info("endpoint %s (%s) dropped", name, watched.endpoint.url)

    def discover(self) -> None:
        """Watch the rootless sockets that appeared, drop those that went."""
        found = {e.name: e for e in rootless_endpoints(self._runtime_root)}
        with self._lock:
            static = {w.endpoint.url for w in self._watched.values()
                      if not w.endpoint.discovered}
            gone = [n for n, w in self._watched.items()
                    if w.endpoint.discovered and n not in found]
            new = [e for n, e in found.items() if n not in self._watched and e.url not in static]
        for name in gone:
            self._remove(name)
        for endpoint in new:
            self._add(endpoint)

    def _discover_forever(self) -> None:
        while not self._stop.wait(DISCOVER_INTERVAL):
            try:
                self.discover()
            except Exception:  # a discovery bug must not end discovery
                log.exception("looking for rootless sockets failed")

    def stop(self) -> None:
        """Stop discovery and every endpoint's collection."""
        self._stop.set()
        if self._discovery is not None:
            self._discovery.join(timeout=5)
        for name in self.names():
            self._remove(name)
