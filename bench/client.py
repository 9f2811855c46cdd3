"""The HTTP client of every scrape measurement: one keep-alive http.client connection."""

from __future__ import annotations

import http.client
import math
import time
from dataclasses import dataclass

PLAIN = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}


@dataclass(frozen=True, slots=True)
class Target:
    """Where one server answers a scrape: port, path, headers, expected Content-Encoding."""

    name: str
    port: int
    path: str
    headers: dict[str, str]
    encoding: str | None = None


def fetch(target: Target) -> bytes:
    """Return the body of one request to ``target`` on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=60)
    try:
        return _get(conn, target)
    finally:
        conn.close()


def _get(conn: http.client.HTTPConnection, target: Target) -> bytes:
    conn.request("GET", target.path, headers=target.headers)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200 or response.getheader("Content-Encoding") != target.encoding:
        raise RuntimeError(f"{target.name}: HTTP {response.status}, "
                           f"Content-Encoding {response.getheader('Content-Encoding')}")
    return body


def sample(target: Target, count: int, budget: float, warmup: int = 3) -> list[float]:
    """Return the latencies (seconds) of up to ``count`` requests over one keep-alive
    connection, after ``warmup`` untimed ones; stops early once ``budget`` seconds are
    spent (at least 5 requests)."""
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=60)
    try:
        for _ in range(warmup):
            _get(conn, target)
        times: list[float] = []
        end = time.perf_counter() + budget
        while len(times) < count and (len(times) < 5 or time.perf_counter() < end):
            start = time.perf_counter()
            _get(conn, target)
            times.append(time.perf_counter() - start)
        return times
    finally:
        conn.close()


def percentile(values: list[float], q: float) -> float:
    """Return the nearest-rank ``q`` quantile (0 < q <= 1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
