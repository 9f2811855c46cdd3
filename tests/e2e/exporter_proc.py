"""A ``podman-exporter`` process for end-to-end tests, and a parser of its /metrics."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from podman_env import free_port
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

Scrape = dict[str, list[Sample]]


class Exporter:
    """One running ``podman-exporter`` and a scraper of its /metrics."""

    def __init__(self, args: list[str], log: Path, interval: str = "1s") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/metrics"
        exe = shutil.which("podman-exporter") or str(Path(sys.executable).with_name(
            "podman-exporter"))
        self.proc = subprocess.Popen(
            [exe, *args, "--collect.interval", interval,
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


def value(scrape: Scrape, metric: str, **labels: str) -> float:
    """Return the value of the one sample of ``metric`` whose labels include ``labels``."""
    found = [s for s in scrape.get(metric, []) if labels.items() <= s.labels.items()]
    if len(found) != 1:
        raise AssertionError(f"{metric}{labels}: {len(found)} samples")
    return float(found[0].value)
