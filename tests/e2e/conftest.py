"""Fixtures for end-to-end tests on a real, private Podman (see podman_env.py).

- ``podman_env`` (session): a private Podman with its REST service and the container zoo.
- ``rest_backend`` (session): the exporter's RestBackend on that service.
- ``varlink_bridge`` (session): the varlink bridge on that service, in-process.
- ``service_outage``: stops the REST service for one test and restarts it afterwards.
- ``exporter``: starts ``podman-exporter`` processes and scrapes their /metrics.

Without podman the tests are skipped, except in CI (``CI=true``) where they fail.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from exporter_proc import Exporter, value
from podman_env import PodmanEnv, private_podman
from truth_world import World, truth_world

from podman_exporter.podman.rest import RestBackend


@pytest.fixture(scope="session")
def podman_env() -> Iterator[PodmanEnv]:
    """Return a private Podman with its REST service running and the zoo created."""
    with private_podman("pe-e2e-") as env:
        env.create_zoo()
        yield env


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


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Return the truth tests' zoo with its work done, observed by both exporters."""
    with truth_world(tmp_path_factory.mktemp("truth")) as observed:
        yield observed


@pytest.fixture(params=("rest", "varlink"))
def api(request: pytest.FixtureRequest) -> str:
    """Return the API of the exporter under test in the truth tests."""
    return str(request.param)
