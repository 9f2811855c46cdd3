"""The naive reference: prometheus_client renders the same series on every scrape.

``python -m bench.naive --address unix:SIM --port P`` collects one Snapshot from the
simulator with the exporter's own collection loop, then serves it with uvicorn (the
exporter's server stack) through ``prometheus_client.make_asgi_app``: each request
builds the metric families from that Snapshot and renders them with
``generate_latest`` (gzip when accepted), as a straightforward exporter would.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

import uvicorn
from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    Metric,
    PlatformCollector,
    ProcessCollector,
    make_asgi_app,
)

from podman_exporter.collect.collectors import COLLECTORS
from podman_exporter.collect.loop import CollectionLoop
from podman_exporter.metrics import build_families
from podman_exporter.metrics.options import MetricOptions
from podman_exporter.podman.varlink_client import VarlinkBackend
from podman_exporter.snapshot.snapshot import Snapshot


class SnapshotCollector:
    """A prometheus_client collector building the families of a Snapshot per collect()."""

    def __init__(self, snapshot: Snapshot, options: MetricOptions) -> None:
        self._snapshot = snapshot
        self._options = options

    def collect(self) -> Iterable[Metric]:
        """Return the families of the Snapshot, built now."""
        return build_families(self._snapshot, self._options)


def collect_snapshot(address: str, connections: int = 16) -> Snapshot:
    """Return one Snapshot of the service at ``address``, collected as the exporter does."""
    backend = VarlinkBackend(address, connections=connections)
    loop = CollectionLoop(backend=lambda: backend, collectors=COLLECTORS, interval=15.0,
                          max_age=60.0, publish=lambda _: None)
    try:
        return loop.collect_once()
    finally:
        loop.stop()
        backend.close()


def registry_for(snapshot: Snapshot) -> CollectorRegistry:
    """Return a registry with the Snapshot's families and the process, platform and GC
    collectors: the series the exporter serves."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot, MetricOptions()))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def main(argv: list[str] | None = None) -> int:
    """Serve the naive reference until SIGTERM; return 0."""
    parser = argparse.ArgumentParser(prog="python -m bench.naive", description=__doc__)
    parser.add_argument("--address", required=True, help="simulator varlink address")
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    args = parser.parse_args(argv)
    app = make_asgi_app(registry_for(collect_snapshot(args.address)))
    uvicorn.run(app, host="127.0.0.1", port=args.port, loop="uvloop", http="httptools",
                lifespan="off", log_config=None, access_log=False, server_header=False,
                timeout_keep_alive=120)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
