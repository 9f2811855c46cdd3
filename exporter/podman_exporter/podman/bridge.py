"""``podman-exporter varlink-bridge``: serve ``io.projectatomic.podman`` from a Podman REST socket.

Each varlink call maps onto REST calls through RestBackend. Errors:

- NotFound -> ``ContainerNotFound`` / ``ImageNotFound`` (name as asked);
- any other Podman error -> ``ErrorOccurred`` with the reason;
- Podman unreachable -> the varlink connection is dropped, as the 2018
  service's socket would have been gone: clients see "unavailable", not an error reply;
- methods the interface marks NotImplemented, or that have no REST mapping here
  (logs, processes, changes, export, build, push, pull, search, tag, history,
  import, wait) -> ``org.varlink.service.MethodNotImplemented``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

import varlink

from podman_exporter.podman import bridge_map as vmap
from podman_exporter.podman.backend import NotFound, PodmanError, PodmanUnavailable
from podman_exporter.podman.corrections import BootClock
from podman_exporter.podman.interface import ERROR_PREFIX, INTERFACE_NAME, strict_interface
from podman_exporter.podman.rest import RestBackend
from podman_exporter.snapshot.model import Container, ContainerSize

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_REST_URL = "unix:///run/podman/podman.sock"
DEFAULT_LISTEN = "unix:/run/podman/io.projectatomic.podman"
DEFAULT_SIZES_INTERVAL = 300.0


class Unreachable(ConnectionError):
    """Podman's REST socket cannot be reached: the handler drops the varlink connection."""


def _error(error: str, **parameters: Any) -> varlink.VarlinkError:
    return varlink.VarlinkError({"error": ERROR_PREFIX + error, "parameters": parameters})


class SizeCache:
    """Container sizes, refreshed in the background at most every ``interval`` seconds.

    The 2018 service computed sizes in every ListContainers; over REST that costs a
    walk of every container's layers, so the bridge answers from this cache and
    leaves the size fields out for containers it has not measured yet.
    """

    def __init__(self, fetch: Callable[[], Mapping[str, ContainerSize]], interval: float) -> None:
        self._fetch = fetch
        self._interval = interval
        self._sizes: Mapping[str, ContainerSize] = MappingProxyType({})
        self._fetched = -interval
        self._lock = threading.Lock()
        self._refreshing = False

    def get(self) -> Mapping[str, ContainerSize]:
        """Return the sizes known now; start a refresh when they are due."""
        with self._lock:
            if not self._refreshing and time.monotonic() - self._fetched >= self._interval:
                self._refreshing = True
                threading.Thread(target=self._refresh, name="bridge-sizes", daemon=True).start()
            return self._sizes

    def _refresh(self) -> None:
        try:
            sizes = self._fetch()
        except PodmanError as exc:  # retried at the next listing
            log.warning("container sizes: %s", exc)
            sizes = None
        with self._lock:
            if sizes is not None:
                self._sizes, self._fetched = sizes, time.monotonic()
            self._refreshing = False


class PodmanBridge:
    """The ``io.projectatomic.podman`` methods, each backed by REST calls."""

    def __init__(self, backend: RestBackend,
                 sizes_interval: float = DEFAULT_SIZES_INTERVAL) -> None:
        self.backend = backend
        self.boot = BootClock()
        self.sizes = SizeCache(
            lambda: MappingProxyType({s.id: s for s in backend.container_sizes().items}),
            sizes_interval)

    def _call(self, fn: Callable[[], T], missing: str = "", name: str = "") -> T:
        try:
            return fn()
        except NotFound:
            raise _error(missing or "ErrorOccurred", **(
                {"name": name} if missing else {"reason": f"{name}: not found"})) from None
        except PodmanUnavailable as exc:
            raise Unreachable(str(exc)) from exc
        except PodmanError as exc:
            raise _error("ErrorOccurred", reason=str(exc)) from None

    def _find(self, name: str) -> Container:
        containers = self._call(self.backend.list_containers).items
        exact = [c for c in containers if name in (c.id, c.name)]
        found = exact or [c for c in containers if name and c.id.startswith(name)]
        if len(found) == 1:
            return found[0]
        raise _error("ContainerNotFound", name=name)

    def Ping(self) -> dict[str, Any]:  # noqa: N802 - varlink method names
        """Return ``{"ping": {"message": "OK"}}`` once Podman answers."""
        self._call(self.backend.ping)
        return {"ping": {"message": "OK"}}

    def GetVersion(self) -> dict[str, Any]:  # noqa: N802
        """Return ``{"version": Version}``."""
        return {"version": vmap.version(self._call(self.backend.host_info).items[0])}

    def GetInfo(self) -> dict[str, Any]:  # noqa: N802
        """Return ``{"info": PodmanInfo}``, the uptime made exact by a BootClock."""
        asked = time.time()
        host = self._call(self.backend.host_info).items[0]
        uptime = self.boot.observe(host.uptime_ranges, asked, time.time())
        return {"info": vmap.info(host, uptime)}

    def Info(self) -> dict[str, Any]:  # noqa: N802
        """Return what GetInfo returns (the seed index's name for it)."""
        return self.GetInfo()

    def ListContainers(self) -> dict[str, Any]:  # noqa: N802
        """Return ``{"containers": [ListContainerData]}``."""
        batch = self._call(self.backend.list_containers)
        sizes = self.sizes.get()
        return {"containers": [vmap.container(c, sizes.get(c.id)) for c in batch.items]}

    def GetContainer(self, name: str) -> dict[str, Any]:  # noqa: N802
        """Return ``{"container": ListContainerData}``."""
        found = self._find(name)
        return {"container": vmap.container(found, self.sizes.get().get(found.id))}

    def GetContainerStats(self, name: str) -> dict[str, Any]:  # noqa: N802
        """Return ``{"container": ContainerStats}`` (all zeros for a stopped container)."""
        cname, stats = self._call(lambda: self.backend.stats_of(name), "ContainerNotFound", name)
        return {"container": vmap.stats(stats, cname)}

    def InspectContainer(self, name: str) -> dict[str, Any]:  # noqa: N802
        """Return ``{"container": <inspect JSON text>}``."""
        doc = self._call(lambda: self.backend.inspect_container(name), "ContainerNotFound", name)
        return {"container": json.dumps(doc)}

    def StopContainer(self, name: str, timeout: int) -> dict[str, Any]:  # noqa: N802
        """Return ``{"container": id}`` after stopping it."""
        return {"container": self._call(
            lambda: self.backend.stop_container(name, timeout), "ContainerNotFound", name)}

    def RestartContainer(self, name: str, timeout: int) -> dict[str, Any]:  # noqa: N802
        """Return ``{"container": id}`` after restarting it."""
        return {"container": self._call(
            lambda: self.backend.restart_container(name, timeout), "ContainerNotFound", name)}

    def KillContainer(self, name: str, signal: int) -> dict[str, Any]:  # noqa: N802
        """Return ``{"container": id}`` after signalling it."""
        return {"container": self._call(
            lambda: self.backend.kill_container(name, signal), "ContainerNotFound", name)}

    def PauseContainer(self, name: str) -> dict[str, Any]:  # noqa: N802
        """Return ``{"container": id}`` after pausing it."""
        return {"container": self._call(
            lambda: self.backend.pause_container(name), "ContainerNotFound", name)}

    def UnpauseContainer(self, name: str) -> dict[str, Any]:  # noqa: N802
        """Return ``{"container": id}`` after unpausing it."""
        return {"container": self._call(
            lambda: self.backend.unpause_container(name), "ContainerNotFound", name)}

    def RemoveContainer(self, name: str, force: bool) -> dict[str, Any]:  # noqa: N802
        """Return ``{"container": id}`` after removing it."""
        return {"container": self._call(
            lambda: self.backend.remove_container(name, bool(force)), "ContainerNotFound", name)}

    def DeleteStoppedContainers(self) -> dict[str, Any]:  # noqa: N802
        """Return ``{"containers": [ids]}`` of the removed containers."""
        return {"containers": self._call(self.backend.delete_stopped_containers)}

    def ListImages(self) -> dict[str, Any]:  # noqa: N802
        """Return ``{"images": [ImageInList]}``."""
        return {"images": [vmap.image(i) for i in self._call(self.backend.list_images).items]}

    def InspectImage(self, name: str) -> dict[str, Any]:  # noqa: N802
        """Return ``{"image": <inspect JSON text>}``."""
        doc = self._call(lambda: self.backend.inspect_image(name), "ImageNotFound", name)
        return {"image": json.dumps(doc)}

    def RemoveImage(self, name: str, force: bool) -> dict[str, Any]:  # noqa: N802
        """Return ``{"image": id}`` after removing it."""
        return {"image": self._call(
            lambda: self.backend.remove_image(name, bool(force)), "ImageNotFound", name)}

    def DeleteUnusedImages(self) -> dict[str, Any]:  # noqa: N802
        """Return ``{"images": [ids]}`` of the removed images."""
        return {"images": self._call(self.backend.delete_unused_images)}


class _Server(varlink.ThreadingServer):  # type: ignore[misc]
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log one line instead of a traceback when a connection is dropped."""
        log.warning("varlink connection dropped: Podman REST socket unreachable")


def make_server(listen: str, podman_url: str, timeout: float = 10.0,
                connections: int = 8,
                sizes_interval: float = DEFAULT_SIZES_INTERVAL) -> socketserver.BaseServer:
    """Return a bound, threaded varlink server; run it with ``serve_forever()``."""
    service = varlink.Service(vendor="podman-exporter", product="varlink-bridge",
                              version="1", url="https://github.com/containers/podman")
    interface = strict_interface()
    service.interfaces[INTERFACE_NAME] = interface  # the package loads only from files
    service.interfaces_handlers[INTERFACE_NAME] = PodmanBridge(
        RestBackend(podman_url, timeout=timeout, connections=connections), sizes_interval)

    class Handler(varlink.RequestHandler):  # type: ignore[misc]
        pass

    Handler.service = service
    if listen.startswith("unix:") and not listen.startswith("unix:@"):
        path = listen[5:].split(";", 1)[0]
        if os.path.exists(path):
            os.unlink(path)  # a killed server leaves its socket file behind
    server: socketserver.BaseServer = _Server(listen, Handler)
    return server


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``varlink-bridge`` flags to ``parser``."""
    parser.add_argument("--listen", default=DEFAULT_LISTEN,
                        help=f"varlink address to serve (default {DEFAULT_LISTEN})")
    parser.add_argument("--podman.url", dest="podman_url", default=DEFAULT_REST_URL,
                        help=f"Podman REST socket (default {DEFAULT_REST_URL})")
    parser.add_argument("--podman.timeout", dest="podman_timeout", type=float, default=10.0,
                        help="seconds per REST call (default 10)")
    parser.add_argument("--podman.connections", dest="podman_connections", type=int, default=8,
                        help="REST connections kept open (default 8)")
    parser.add_argument("--sizes.interval", dest="sizes_interval", type=float,
                        default=DEFAULT_SIZES_INTERVAL,
                        help="seconds between refreshes of container sizes (default "
                        f"{DEFAULT_SIZES_INTERVAL:g})")


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; return the exit code (2 for a bad address)."""
    try:
        server = make_server(args.listen, args.podman_url, args.podman_timeout,
                             args.podman_connections, args.sizes_interval)
    except (ValueError, OSError) as exc:
        print(f"podman-exporter varlink-bridge: {exc}", file=sys.stderr, flush=True)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    thread = threading.Thread(target=server.serve_forever, name="varlink-bridge", daemon=True)
    thread.start()
    log.info("serving %s on %s from %s", INTERFACE_NAME, args.listen, args.podman_url)
    stop.wait()
    server.shutdown()
    server.server_close()
    return 0
