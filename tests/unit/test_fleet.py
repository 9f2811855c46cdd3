"""The fleet of watched endpoints: what it holds of an endpoint goes with it."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Callable
from pathlib import Path

from podman_exporter.cli import build_parser, config_from_args
from podman_exporter.collect.fleet import Fleet
from podman_exporter.snapshot.snapshot import Snapshot


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def user_socket(root: Path, uid: int) -> socket.socket:
    """Return a unix socket where a user's rootless Podman would be (bound, refusing
    connections: a Podman down, found at once)."""
    path = root / str(uid) / "podman" / "podman.sock"
    path.parent.mkdir(parents=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    return sock


def test_an_endpoint_dropped_by_discovery_leaves_no_event_watch(tmp_path: Path) -> None:
    config = config_from_args(build_parser().parse_args(
        ["--podman.api", "rest", "--podman.discover-rootless"]))
    published: list[Snapshot] = []
    forgotten: list[str] = []
    sockets = {uid: user_socket(tmp_path, uid) for uid in (4001, 4002)}
    fleet = Fleet(config, published.append, forgotten.append, runtime_root=str(tmp_path))
    try:
        fleet.start(())
        wait_for(lambda: len(fleet.watches()) == 2, "both endpoints' event watches")
        gone = fleet.names()[0]
        (tmp_path / "4001" / "podman" / "podman.sock").unlink()
        sockets.pop(4001).close()
        fleet.discover()
        assert forgotten == [gone]
        assert len(fleet.names()) == 1 and len(fleet.watches()) == 1
    finally:
        fleet.stop()
        for sock in sockets.values():
            sock.close()
    assert fleet.watches() == []


def test_configured_endpoints_are_spread_over_the_interval_from_one_time(
        tmp_path: Path) -> None:
    """Each endpoint's first collection is i/N of the interval after a common start, not
    after its own (late) start: the phases stay apart however long starting takes."""
    socks = [user_socket(tmp_path, uid) for uid in (4001, 4002, 4003, 4004)]
    urls = [f"e{i}=unix://{s.getsockname()}" for i, s in enumerate(socks)]
    config = config_from_args(build_parser().parse_args(
        ["--podman.api", "rest", "--collect.interval", "60s",
         *(arg for url in urls for arg in ("--podman.url", url))]))
    fleet = Fleet(config, lambda snapshot: None, lambda name: None)
    try:
        fleet.start(config.podman_endpoints)
        firsts = [fleet.watched()[f"e{i}"].loop.first for i in range(4)]
    finally:
        fleet.stop()
        for sock in socks:
            sock.close()
    assert all(first is not None for first in firsts)
    steps = [(b - a).total_seconds() for a, b in itertools.pairwise(firsts)]  # type: ignore[operator]
    assert steps == [15.0, 15.0, 15.0]
