"""Processes the reliability tests drive: the exporter, the simulated Podman, and probes.

The exporter always runs as a real ``python -m podman_exporter`` subprocess; the
simulator runs as another one and is steered through its control interface
``io.podman-exporter.simulator``.
"""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import varlink
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from podman_exporter.sim import CONTROL_INTERFACE, control_interface
from support import free_port

Scrape = dict[str, list[Sample]]




def parse(body: str) -> Scrape:
    """Return the samples of a classic text exposition by sample name (raises if unparsable)."""
    out: Scrape = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def value(scrape: Scrape, name: str, **labels: str) -> float | None:
    """Return the value of the one sample of ``name`` with ``labels``; None if absent."""
    found = [s for s in scrape.get(name, []) if labels.items() <= s.labels.items()]
    if len(found) > 1:
        raise AssertionError(f"{name}{labels}: {len(found)} samples")
    return float(found[0].value) if found else None


def rss_bytes(pid: int) -> int:
    """Return the resident set size of process ``pid`` (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


@dataclass
class Probe:
    """One HTTP answer: status, body and how long it took."""

    status: int
    body: bytes
    seconds: float


def get(port: int, path: str = "/metrics", timeout: float = 10.0) -> Probe:
    """Return the answer to ``GET path`` on 127.0.0.1:``port`` (new connection)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    return Probe(resp.status, body, time.perf_counter() - started)


class Simulator:
    """A ``podman-exporter simulate`` subprocess on a unix socket, with its control client."""

    def __init__(self, path: Path, log: Path, args: Sequence[str] = ()) -> None:
        self.path = path
        self.address = f"unix:{path}"
        self.args = list(args)
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        """Start the process; return once the socket answers."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "podman_exporter", "simulate", "--address", self.address,
             *self.args],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"simulator exited: {self.log.read_text()[-2000:]}")
            try:
                self.call("GetFaults")
                return
            except (OSError, varlink.ConnectionError):
                time.sleep(0.05)
        raise AssertionError("simulator did not answer within 30s")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Return the reply of one control-interface call."""
        client = varlink.Client(address=self.address)
        client.add_interface(control_interface())
        try:
            with client.open(CONTROL_INTERFACE) as conn:
                reply = getattr(conn, method)(**params)
        finally:
            client.cleanup()
        return dict(reply) if reply else {}

    def set_faults(self, **faults: Any) -> None:
        """Merge faults (fields of the control interface's ``Faults``) into those in force."""
        self.call("SetFaults", faults=faults)

    def clear_faults(self) -> None:
        """Remove every fault."""
        self.call("ClearFaults")

    def calls(self) -> dict[str, int]:
        """Return the Podman calls served so far, by full method name."""
        return dict(self.call("GetSummary")["summary"]["calls"])

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the process."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """Kill the process (SIGKILL) and wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None


class Exporter:
    """A ``python -m podman_exporter`` subprocess on 127.0.0.1 and a scraper of it."""

    def __init__(self, url: str, api: str, log: Path, extra: Sequence[str] = ()) -> None:
        self.port = free_port()
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "podman_exporter", "--podman.url", url, "--podman.api", api,
             "--web.listen-address", f"127.0.0.1:{self.port}", "--collect.interval", "1s",
             "--podman.timeout", "500ms", *extra],
            stdout=log.open("ab"), stderr=subprocess.STDOUT)

    def alive(self) -> None:
        """Fail the test if the process has exited."""
        if self.proc.poll() is not None:
            pytest.fail(f"exporter exited with {self.proc.returncode}: "
                        f"{self.log.read_text()[-3000:]}")

    def probe(self, path: str = "/metrics") -> Probe:
        """Return one answer from the exporter (fails the test if it has exited)."""
        self.alive()
        return get(self.port, path)

    def scrape(self) -> Scrape:
        """Return the parsed /metrics; the answer must be 200."""
        answer = self.probe()
        assert answer.status == 200, answer
        return parse(answer.body.decode())

    def wait_for(self, check: Callable[[Scrape], bool], what: str,
                 within: float = 30) -> tuple[Scrape, float]:
        """Return the first scrape for which ``check`` holds and the seconds it took;
        every answer on the way must be 200 once the first one was."""
        started = time.monotonic()
        last: Scrape = {}
        answered = False
        while time.monotonic() - started < within:
            try:
                answer = self.probe()
            except OSError:
                assert not answered, "the exporter stopped answering"
                time.sleep(0.1)
                continue
            if answer.status == 503 and not answered:
                time.sleep(0.1)
                continue
            assert answer.status == 200, answer
            answered = True
            last = parse(answer.body.decode())
            if check(last):
                return last, time.monotonic() - started
            time.sleep(0.1)
        pytest.fail(f"timed out after {within}s waiting for {what}; last podman_up: "
                    f"{last.get('podman_up')}, success: "
                    f"{last.get('podman_scrape_collector_success')}")

    def rss(self) -> int:
        """Return the process's resident set size in bytes."""
        return rss_bytes(self.proc.pid)

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL); fail if it had crashed before."""
        crashed = self.proc.poll()
        if crashed is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        assert crashed is None, f"exporter had exited with {crashed}"


@contextmanager
def exporter(url: str, api: str, log: Path, extra: Sequence[str] = ()) -> Iterator[Exporter]:
    """Run an exporter for the duration of the block."""
    exp = Exporter(url, api, log, extra)
    try:
        yield exp
    finally:
        exp.stop()


def up_is(want: float) -> Callable[[Scrape], bool]:
    """Return a check that ``podman_up`` equals ``want``."""
    return lambda s: value(s, "podman_up") == want


def success(scrape: Scrape) -> dict[str, float]:
    """Return ``podman_scrape_collector_success`` by collector."""
    return {s.labels["collector"]: float(s.value)
            for s in scrape.get("podman_scrape_collector_success", [])}


def durations(scrape: Scrape) -> dict[str, float]:
    """Return ``podman_scrape_collector_duration_seconds`` by collector."""
    return {s.labels["collector"]: float(s.value)
            for s in scrape.get("podman_scrape_collector_duration_seconds", [])}
