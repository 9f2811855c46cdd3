"""One exporter, several real Podmans: two rootful services with their own storage, one
reached over ssh, and a genuinely rootless user service discovered at run time.

Every series carries ``endpoint``; the same container name on two endpoints gives two
series; a hung (SIGSTOP) or killed endpoint shows ``podman_up`` 0 while the others
keep being collected; a user's socket that appears is watched and one that goes is
dropped with its series; the rootless endpoint on this cgroup v1 host has no usage
(libpod answers 409) and says so through its stats collector, everything else kept.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from exporter_proc import Exporter, Scrape
from podman_env import IMAGE, PodmanEnv, private_podman
from rootless_env import RootlessEnv, rootless_podman
from sshd_env import Sshd, local_sshd

pytestmark = pytest.mark.realpodman
COLLECTED = "podman_exporter_last_collection_timestamp_seconds"


@dataclass
class Setup:
    """The Podmans and the exporter watching them."""

    a: PodmanEnv
    b: PodmanEnv
    far: PodmanEnv
    sshd: Sshd
    exporter: Exporter


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """Return three private Podmans (``far`` through a local sshd) and an exporter with
    the endpoints a, b and far, and rootless discovery on."""
    with private_podman("pe-multi-a-") as a, private_podman("pe-multi-b-") as b, \
            private_podman("pe-multi-far-") as far, local_sshd() as sshd:
        for env in (a, b):
            env.podman("run", "-d", "--name", "twin", IMAGE, "sleep", "600")
        far.podman("run", "-d", "--name", "remote", IMAGE, "sleep", "600")
        exporter = Exporter(
            ["--podman.api", "rest", "--podman.url", f"a={a.url}", "--podman.url", f"b={b.url}",
             "--podman.url", f"far={sshd.url(far.socket_path)}", "--podman.discover-rootless",
             "--podman.timeout", "2s"],
            tmp_path_factory.mktemp("multi") / "exporter.log")
        try:
            exporter.wait_for(lambda s: all(value(s, "podman_up", endpoint=e) == 1
                                            for e in ("a", "b", "far")), "three endpoints up")
            yield Setup(a, b, far, sshd, exporter)
        finally:
            exporter.stop()


def value(scrape: Scrape, metric: str, **labels: str) -> float | None:
    """Return the value of the one sample of ``metric`` with ``labels``, or None."""
    found = [s.value for s in scrape.get(metric, []) if labels.items() <= s.labels.items()]
    assert len(found) <= 1, f"{metric}{labels}: {found}"
    return found[0] if found else None


def endpoints(scrape: Scrape, metric: str, **labels: str) -> set[str]:
    """Return the endpoints that have a sample of ``metric`` with ``labels``."""
    return {s.labels["endpoint"] for s in scrape.get(metric, [])
            if labels.items() <= s.labels.items()}


def test_every_series_names_its_endpoint(setup: Setup) -> None:
    scrape = setup.exporter.scrape()
    unlabelled = sorted({name for name, samples in scrape.items() for s in samples
                         if name.startswith("podman_") and "endpoint" not in s.labels})
    assert unlabelled == ["podman_exporter_build_info"]


def test_the_same_name_on_two_endpoints_is_two_series(setup: Setup) -> None:
    scrape = setup.exporter.scrape()
    assert endpoints(scrape, "podman_container_state", name="twin") == {"a", "b"}
    ids = {s.labels["endpoint"]: s.labels["id"] for s in scrape["podman_container_info"]
           if s.labels["name"] == "twin"}
    assert ids["a"] != ids["b"]


def test_an_ssh_endpoint_is_collected_through_sshd(setup: Setup) -> None:
    scrape = setup.exporter.scrape()
    assert endpoints(scrape, "podman_container_state", name="remote") == {"far"}
    cid = setup.far.podman("inspect", "--format", "{{.Id}}", "remote").strip()
    assert value(scrape, "podman_container_state", endpoint="far", id=cid[:12]) == 2
    assert value(scrape, "podman_exporter_event_stream_up", endpoint="far") == 1


def collections(exporter: Exporter, endpoint: str, after: float) -> Scrape:
    """Return a scrape in which ``endpoint`` finished a collection after ``after``."""
    return exporter.wait_for(lambda s: (value(s, COLLECTED, endpoint=endpoint) or 0) > after,
                             f"a collection of {endpoint}")


def test_a_hung_endpoint_does_not_hold_the_others(setup: Setup) -> None:
    exporter, service = setup.exporter, setup.b.service
    assert service is not None
    os.killpg(service.pid, signal.SIGSTOP)
    try:
        down = exporter.wait_for(lambda s: value(s, "podman_up", endpoint="b") == 0,
                                 "b down while stopped", within=30)
        now = value(down, COLLECTED, endpoint="a") or 0
        later = collections(exporter, "a", now)  # a is collected on while b hangs
        later = collections(exporter, "far", value(later, COLLECTED, endpoint="far") or 0)
        assert value(later, "podman_up", endpoint="a") == 1
        assert value(later, "podman_up", endpoint="far") == 1
        assert endpoints(later, "podman_container_state", name="twin") >= {"a"}
    finally:
        os.killpg(service.pid, signal.SIGCONT)
    exporter.wait_for(lambda s: value(s, "podman_up", endpoint="b") == 1, "b back", within=30)


def test_a_killed_endpoint_is_down_and_comes_back(setup: Setup) -> None:
    exporter, env = setup.exporter, setup.a
    assert env.service is not None
    os.killpg(env.service.pid, signal.SIGKILL)
    env.service.wait()
    scrape = exporter.wait_for(lambda s: value(s, "podman_up", endpoint="a") == 0, "a down")
    assert value(scrape, "podman_up", endpoint="b") == 1
    assert value(scrape, "podman_up", endpoint="far") == 1
    env.start_service()
    exporter.wait_for(lambda s: value(s, "podman_up", endpoint="a") == 1, "a back", within=60)


@pytest.fixture()
def rootless(setup: Setup) -> Iterator[RootlessEnv]:
    """Return a rootless user's Podman that appeared after the exporter started."""
    with rootless_podman("pe-multi-rl-") as env:
        env.load_image()
        env.podman("run", "-d", "--network", "none", "--name", "mine", IMAGE, "sleep", "600")
        yield env


def test_a_rootless_socket_is_watched_when_it_appears_and_dropped_when_it_goes(
        setup: Setup, rootless: RootlessEnv) -> None:
    exporter, user = setup.exporter, rootless.name
    scrape = exporter.wait_for(
        lambda s: value(s, "podman_up", endpoint=user) == 1, "the rootless endpoint", within=60)
    scrape = exporter.wait_for(
        lambda s: endpoints(s, "podman_container_state", name="mine") == {user},
        "its container", within=30)
    # Usage is unavailable rootless on cgroup v1 (libpod answers 409): said, not faked.
    assert value(scrape, "podman_scrape_collector_success", endpoint=user,
                 collector="stats") == 0
    assert endpoints(scrape, "podman_container_cpu_seconds_total") & {user} == set()
    assert value(scrape, "podman_scrape_collector_success", endpoint=user,
                 collector="containers") == 1
    rootless.stop_service()  # Podman removes its socket on SIGTERM
    assert not Path(rootless.socket_path).exists()
    gone = exporter.wait_for(lambda s: value(s, "podman_up", endpoint=user) is None,
                             "the rootless endpoint dropped", within=60)
    assert endpoints(gone, "podman_container_state", name="mine") == set()
    assert {"a", "b", "far"} <= endpoints(gone, "podman_up")
