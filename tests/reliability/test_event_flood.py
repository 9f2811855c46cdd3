"""An event flood: the demo's simulated Podman logs 2,000 events a second for 5 s on its
REST event stream; the exporter counts every one of them exactly and /metrics keeps
answering meanwhile. (bench/events.py measures the CPU per 1,000 events and the
latency during a 30 s flood.)"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import varlink
from rel_procs import free_port, get, parse

from podman_exporter.podman.rest_http import UnixHTTPConnection

pytestmark = pytest.mark.timeout(120)
SIM = "io.podman-exporter.simulator"
RATE, SECONDS = 2000.0, 5.0


def logged(events_socket: str) -> int:
    """Return how many events the simulated Podman has logged (its whole log)."""
    conn = UnixHTTPConnection(events_socket, 30)
    try:
        conn.request("GET", "/v4.0.0/libpod/events?stream=false")
        body = conn.getresponse().read()
    finally:
        conn.close()
    return sum(1 for line in body.splitlines() if line.strip() and json.loads(line))


def counted(port: int) -> int:
    """Return the events the exporter has counted (podman_events_total, summed)."""
    answer = get(port, "/metrics")
    assert answer.status == 200, answer
    return int(sum(s.value for s in parse(answer.body.decode()).get("podman_events_total", [])))


def test_every_event_of_a_flood_is_counted_and_metrics_keep_answering(tmp_path: Path) -> None:
    socket, port = str(tmp_path / "podman.sock"), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "podman_exporter", "--demo", "--demo.socket", socket,
         "--web.listen-address", f"127.0.0.1:{port}", "--collect.interval", "15s"],
        stdout=(tmp_path / "exporter.log").open("wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if counted(port) > 0:
                    break
            except (OSError, AssertionError):
                pass
            time.sleep(0.2)
        with varlink.Client(f"unix:{socket}") as client, client.open(SIM) as sim:
            sim.SetFaults({"events_flood": RATE})
            answers = []
            flood_end = time.monotonic() + SECONDS
            while time.monotonic() < flood_end:
                answers.append(get(port, "/metrics").status)
                time.sleep(0.05)
            sim.SetFaults({"events_flood": 0.0})
        assert answers and set(answers) == {200}
        events = str(tmp_path / "podman.sock.events")
        deadline = time.monotonic() + 60
        seen: list[tuple[int, int]] = []  # (logged, counted); the demo's crash loop goes on
        while time.monotonic() < deadline:
            seen.append((logged(events), counted(port)))
            if seen[-1][0] == seen[-1][1]:
                break
            time.sleep(0.2)
        total, count = seen[-1]
        assert total >= RATE * SECONDS * 0.9, f"the flood logged only {total} events"
        assert count == total, f"logged vs counted, last readings: {seen[-5:]}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
