"""Load on /metrics: concurrent scrapers (wrk), idle and trickling connections,
and ``--web.max-requests`` answering 503 instead of queueing without bound."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rel_procs import Exporter, Simulator, exporter, get, up_is

from support import require_tool as require

pytestmark = pytest.mark.timeout(300)

PROMETHEUS_HEADERS = (
    "Accept: application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4",
    "Accept-Encoding: gzip",
)
P99_GOAL_MS = 50.0


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """Return a simulated Podman with 100 containers."""
    base = tmp_path_factory.mktemp("load")
    sim = Simulator(base / "podman.sock", base / "sim.log", ["--containers", "100"])
    yield sim
    sim.stop()


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def wrk(url: str, connections: int, seconds: int, headers: tuple[str, ...]) -> dict[str, Any]:
    """Run wrk and return requests, errors, requests/s and latency percentiles (ms)."""
    args = [require("wrk"), "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run([*args, url], check=True, capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    percentiles = {f"p{p}_ms": _ms(v) for p, v in re.findall(r"^\s+(\d+)%\s+(\S+)$", out, re.M)}
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (
        sum(int(g) for g in socket_errors.groups()) if socket_errors else 0)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"requests": requests, "errors": errors, "requests_per_second": rate,
            **percentiles, "output": out}


def run_scrapers(fleet: Simulator, tmp_path: Path, seconds: int,
                 figures: dict[str, Any]) -> dict[str, Any]:
    """Run 50 wrk connections against an exporter for ``seconds``; return the figures."""
    with exporter(fleet.address, "varlink", tmp_path / "exporter.log") as exp:
        exp.wait_for(up_is(1), "podman_up 1")
        body = len(exp.probe().body)
        result = wrk(f"http://127.0.0.1:{exp.port}/metrics", 50, seconds, PROMETHEUS_HEADERS)
        exp.alive()
    out = result.pop("output")
    result["body_bytes_plain"] = body
    result["seconds"] = seconds
    figures[f"load.wrk_50x{seconds}s"] = result
    assert result["requests"] > 0, out
    assert result["errors"] == 0, out
    return result


def test_fifty_concurrent_scrapers(fleet: Simulator, tmp_path: Path,
                                   figures: dict[str, Any]) -> None:
    run_scrapers(fleet, tmp_path, 5, figures)


@pytest.mark.soak
def test_fifty_concurrent_scrapers_for_thirty_seconds(fleet: Simulator, tmp_path: Path,
                                                      figures: dict[str, Any]) -> None:
    result = run_scrapers(fleet, tmp_path, 30, figures)
    assert result["p99_ms"] <= P99_GOAL_MS


def _trickle(socks: list[socket.socket], stop: threading.Event) -> None:
    """Send one byte of a request per socket every 0.2 s, never finishing it."""
    request = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10_000
    i = 0
    while not stop.wait(0.2) and i < len(request):
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.sendall(request[i:i + 1])
        i += 1


def test_idle_and_trickling_connections_do_not_block_a_scrape(
        fleet: Simulator, tmp_path: Path, figures: dict[str, Any]) -> None:
    with exporter(fleet.address, "varlink", tmp_path / "exporter.log") as exp:
        exp.wait_for(up_is(1), "podman_up 1")
        socks = [socket.create_connection(("127.0.0.1", exp.port)) for _ in range(200)]
        stop = threading.Event()
        trickler = threading.Thread(target=_trickle, args=(socks[100:], stop))
        trickler.start()
        try:
            time.sleep(1.0)
            answers = [exp.probe() for _ in range(20)]
        finally:
            stop.set()
            trickler.join()
            for sock in socks:
                sock.close()
    assert all(a.status == 200 for a in answers)
    slowest = max(a.seconds for a in answers)
    figures["load.scrape_with_200_idle_or_trickling_ms"] = round(slowest * 1000, 2)
    assert slowest < 1.0


def _slow_reader(port: int) -> socket.socket:
    """Return a connection that asked for the uncompressed /metrics and reads nothing."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock


def test_max_requests_answers_503_past_the_limit(tmp_path: Path,
                                                 figures: dict[str, Any]) -> None:
    """Slow readers of a 6 MB body keep requests in flight; past --web.max-requests
    the next request is answered 503 at once, and 200 again once they leave."""
    sim = Simulator(tmp_path / "podman.sock", tmp_path / "sim.log", ["--containers", "5000"])
    try:
        with exporter(sim.address, "varlink", tmp_path / "exporter.log",
                      ["--web.max-requests", "4", "--collect.interval", "5s",
                       "--podman.timeout", "5s"]) as exp:
            exp.wait_for(up_is(1), "podman_up 1")
            assert len(exp.probe().body) > 5_000_000, "body smaller than socket buffers"
            _check_limit(exp, figures)
    finally:
        sim.stop()


def _check_limit(exp: Exporter, figures: dict[str, Any]) -> None:
    readers = [_slow_reader(exp.port) for _ in range(4)]
    try:
        time.sleep(0.5)
        refused = [get(exp.port, timeout=5) for _ in range(5)]
        healthz = get(exp.port, "/healthz", timeout=5)
    finally:
        for sock in readers:
            sock.close()
    assert [a.status for a in refused] == [503] * 5
    assert healthz.status == 503
    figures["load.max_requests_503_ms"] = round(max(a.seconds for a in refused) * 1000, 2)
    assert max(a.seconds for a in refused) < 1.0
    _, waited = exp.wait_for(lambda s: True, "200 after the slow readers left", within=10)
    figures["load.max_requests_recovery_seconds"] = round(waited, 3)
