"""Podman's events on real Podman: restarts, exits and OOM kills as counters, no event lost
or counted twice across a service restart, and changes on /metrics within seconds
although the exporter collects only every 60 s."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from exporter_proc import Exporter, Scrape
from podman_env import IMAGE, PodmanEnv, private_podman

pytestmark = pytest.mark.realpodman
INTERVAL = "60s"
"""The exporter's collection interval: everything seen sooner came through events."""


@pytest.fixture(scope="module")
def env() -> Iterator[PodmanEnv]:
    """Return a private Podman for this module."""
    with private_podman("pe-events-") as podman:
        yield podman


@pytest.fixture(scope="module")
def exporter(env: PodmanEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exporter]:
    """Return an exporter on the private Podman (REST) collecting every 60 s, once its
    event stream is connected."""
    exp = Exporter(["--podman.api", "rest", "--podman.url", env.url],
                   tmp_path_factory.mktemp("events") / "exporter.log", interval=INTERVAL)
    exp.wait_for(lambda s: sample(s, "podman_exporter_event_stream_up") == 1,
                 "the event stream connected")
    yield exp
    exp.stop()


def sample(scrape: Scrape, metric: str, **labels: str) -> float | None:
    """Return the value of the one sample of ``metric`` with ``labels``, or None."""
    found = [s.value for s in scrape.get(metric, []) if labels.items() <= s.labels.items()]
    assert len(found) <= 1, f"{metric}{labels}: {found}"
    return found[0] if found else None


def inspect(env: PodmanEnv, name: str) -> dict[str, object]:
    """Return ``podman inspect`` of one container."""
    doc: list[dict[str, object]] = json.loads(env.podman("inspect", name))
    return doc[0]


def wait_until(check: object, what: str, within: float = 30.0) -> None:
    """Return once ``check()`` is true; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def test_restarts_follow_restart_count(env: PodmanEnv, exporter: Exporter) -> None:
    env.podman("run", "-d", "--name", "looper", "--restart=always", IMAGE,
               "sh", "-c", "sleep 1; exit 1")
    wait_until(lambda: int(inspect(env, "looper")["RestartCount"]) >= 4, "4 restarts")  # type: ignore[call-overload]
    scrape = exporter.scrape()
    truth = int(inspect(env, "looper")["RestartCount"])  # type: ignore[call-overload]
    restarts = sample(scrape, "podman_container_restarts_total", name="looper")
    exits = sample(scrape, "podman_container_exits_total", name="looper")
    env.podman("rm", "-f", "looper")
    assert restarts is not None and abs(restarts - truth) <= 1, (restarts, truth)
    # Each policy restart follows a died; the run going on may have died already.
    assert exits is not None and restarts <= exits <= restarts + 1, (exits, restarts)


def test_an_oom_kill_is_counted_once(env: PodmanEnv, exporter: Exporter) -> None:
    env.podman("run", "-d", "--name", "hog", "--memory", "32m", IMAGE,
               "sh", "-c", "sleep 2; tail /dev/zero")
    env.podman("wait", "hog")
    state = inspect(env, "hog")["State"]
    assert state["ExitCode"] == 137  # type: ignore[index]
    scrape = exporter.wait_for(
        lambda s: sample(s, "podman_container_exits_total", name="hog") == 1, "the exit")
    exporter.wait_for(
        lambda s: sample(s, "podman_container_oom_events_total", name="hog") is not None,
        "the OOM count", within=10)
    scrape = exporter.scrape()
    assert sample(scrape, "podman_container_oom_events_total", name="hog") == 1
    env.podman("rm", "-f", "hog")


def test_an_exit_between_two_collections_is_counted(env: PodmanEnv, exporter: Exporter) -> None:
    env.podman("run", "-d", "--name", "brief", IMAGE, "sh", "-c", "exit 3")
    env.podman("wait", "brief")
    scrape = exporter.wait_for(
        lambda s: sample(s, "podman_container_exits_total", name="brief") == 1, "the exit")
    assert sample(scrape, "podman_container_exit_code", name="brief") == 3
    assert sample(scrape, "podman_container_oom_events_total", name="brief") in (None, 0)
    env.podman("rm", "brief")


def appears_within(exporter: Exporter, name: str, present: bool) -> float:
    """Return the seconds until ``name`` is (or is no longer) on /metrics."""
    started = time.monotonic()
    exporter.wait_for(
        lambda s: (sample(s, "podman_container_state", name=name) is not None) == present,
        f"{name} {'on' if present else 'off'} /metrics", within=30)
    return time.monotonic() - started


def test_a_new_and_a_removed_container_show_within_two_seconds(
        env: PodmanEnv, exporter: Exporter) -> None:
    env.podman("run", "-d", "--name", "newcomer", IMAGE, "sleep", "600")
    shown = appears_within(exporter, "newcomer", True)
    env.podman("rm", "-f", "-t", "0", "newcomer")
    gone = appears_within(exporter, "newcomer", False)
    assert shown < 2 and gone < 2, f"shown after {shown:.2f} s, gone after {gone:.2f} s"


def podman_log(env: PodmanEnv, since: str) -> Counter[tuple[str, str]]:
    """Return Podman's own count of the events since ``since``, by (type, action)."""
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    out = env.podman("events", "--stream=false", "--since", since, "--until", until,
                     "--format", "{{.Type}} {{.Status}}")
    return Counter(tuple(line.split(maxsplit=1)) for line in out.splitlines()  # type: ignore[misc]
                   if line.strip())


def totals(scrape: Scrape) -> Counter[tuple[str, str]]:
    """Return podman_events_total by (type, action)."""
    return Counter({(s.labels["type"], s.labels["action"]): int(s.value)
                    for s in scrape.get("podman_events_total", [])})


def test_no_event_lost_or_doubled_across_a_service_restart(
        env: PodmanEnv, exporter: Exporter, tmp_path: Path) -> None:
    time.sleep(1.1)  # the log's --since has whole seconds: start on a fresh one
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    before = totals(exporter.scrape())
    env.podman("run", "-d", "--name", "before-down", IMAGE, "sh", "-c", "exit 0")
    env.podman("wait", "before-down")
    env.stop_service()
    exporter.wait_for(lambda s: sample(s, "podman_exporter_event_stream_up") == 0,
                      "the stream down", within=30)
    env.podman("run", "-d", "--name", "while-down", IMAGE, "sh", "-c", "exit 5")
    env.podman("wait", "while-down")
    env.podman("rm", "before-down")
    env.start_service()
    exporter.wait_for(lambda s: sample(s, "podman_exporter_event_stream_up") == 1,
                      "the stream up again", within=60)
    env.podman("rm", "while-down")
    time.sleep(2)
    logged = podman_log(env, since)
    wait_until(lambda: totals(exporter.scrape()) - before == logged, "every event counted")
    assert totals(exporter.scrape()) - before == logged
    assert logged[("container", "died")] >= 2 and logged[("container", "remove")] >= 2
