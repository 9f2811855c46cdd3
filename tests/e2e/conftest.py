"""Fixtures for end-to-end tests on a real, private Podman (see podman_env.py).

- ``podman_env`` (session): a private Podman with its REST service and the container zoo.
- ``rest_backend`` (session): the exporter's RestBackend on that service.
- ``varlink_bridge`` (session): the varlink bridge on that service, in-process.
- ``service_outage``: stops the REST service for one test and restarts it afterwards.
- ``exporter``: starts ``podman-exporter`` processes and scrapes their /metrics.

Without podman the tests are skipped, except in CI (``CI=true``) where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from podman_env import PodmanEnv, free_port
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from podman_exporter.podman.rest import RestBackend

Scrape = dict[str, list[Sample]]


def require(tool: str) -> None:
    """Fail (CI) or skip (elsewhere) when ``tool`` is not installed."""
    if shutil.which(tool) is None:
        reason = f"{tool} is not installed (apt-get install podman runc busybox-static)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def podman_env() -> Iterator[PodmanEnv]:
    """Return a private Podman with its REST service running and the zoo created."""
    require("podman")
    require("runc")
    if not os.path.exists("/bin/busybox"):
        require("busybox")
    env = PodmanEnv(Path(tempfile.mkdtemp(prefix="pe-e2e-", dir="/tmp")))
    try:
        env.setup()
        env.start_service()
        env.create_zoo()
        yield env
    finally:
        env.teardown()


@pytest.fixture(scope="session")
def rest_backend(podman_env: PodmanEnv) -> Iterator[RestBackend]:
    """Return a RestBackend on the private service."""
    backend = RestBackend(podman_env.url, timeout=10.0, connections=4)
    yield backend
    backend.close()


@pytest.fixture()
def service_outage(podman_env: PodmanEnv) -> Iterator[PodmanEnv]:
    """Stop the REST service for the test; it is running again afterwards in any case."""
    podman_env.stop_service()
    try:
        yield podman_env
    finally:
        if podman_env.service is None:
            podman_env.start_service()


@pytest.fixture(scope="session")
def varlink_bridge(podman_env: PodmanEnv) -> Iterator[str]:
    """Return the ``unix:`` address of a varlink bridge serving the private Podman."""
    from podman_exporter.podman.bridge import make_server

    address = f"unix:{podman_env.base / 'varlink.sock'}"
    server = make_server(address, podman_env.url, timeout=10.0, connections=4)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield address
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


class Exporter:
    """One running ``podman-exporter`` and a scraper of its /metrics."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/metrics"
        exe = shutil.which("podman-exporter") or str(Path(sys.executable).with_name(
            "podman-exporter"))
        self.proc = subprocess.Popen(
            [exe, *args, "--collect.interval", "1s",
             "--web.listen-address", f"127.0.0.1:{self.port}"],
            stdout=log.open("ab"), stderr=subprocess.STDOUT)
        self.log = log

    def scrape(self) -> Scrape:
        """Return the samples of one scrape, by metric name."""
        with urllib.request.urlopen(self.url, timeout=10) as resp:
            body = resp.read().decode()
        out: Scrape = {}
        for family in text_string_to_metric_families(body):
            for sample in family.samples:
                out.setdefault(sample.name, []).append(sample)
        return out

    def wait_for(self, check: Callable[[Scrape], bool], what: str, within: float = 30) -> Scrape:
        """Return the first scrape for which ``check`` holds; fail after ``within`` seconds."""
        deadline = time.monotonic() + within
        last: Scrape = {}
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"exporter exited with {self.proc.returncode}: "
                            f"{self.log.read_text()[-2000:]}")
            try:
                last = self.scrape()
            except OSError:
                last = {}
            if last and check(last):
                return last
            time.sleep(0.2)
        pytest.fail(f"timed out waiting for {what}; last podman_up: {last.get('podman_up')}")

    def next_collection(self, after: Scrape) -> Scrape:
        """Return a scrape taken from a collection newer than the one in ``after``."""
        key = "podman_exporter_last_collection_timestamp_seconds"
        before = value(after, key)
        return self.wait_for(lambda s: value(s, key) > before, "the next collection")

    def stop(self) -> None:
        """Stop the process."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def value(scrape: Scrape, name: str, **labels: str) -> float:
    """Return the value of the one sample of ``name`` whose labels include ``labels``."""
    found = [s for s in scrape.get(name, []) if labels.items() <= s.labels.items()]
    if len(found) != 1:
        raise AssertionError(f"{name}{labels}: {len(found)} samples")
    return float(found[0].value)


@pytest.fixture()
def exporter(tmp_path: Path) -> Iterator[Callable[..., Exporter]]:
    """Return a starter of exporters (``start(api, url)``); all are stopped afterwards."""
    started: list[Exporter] = []

    def start(api: str, url: str) -> Exporter:
        exp = Exporter(["--podman.api", api, "--podman.url", url],
                       tmp_path / f"exporter-{len(started)}.log")
        started.append(exp)
        exp.wait_for(lambda s: s.get("podman_up", [None])[0] is not None
                     and value(s, "podman_up") == 1, "podman_up 1")
        return exp

    yield start
    for exp in started:
        exp.stop()
