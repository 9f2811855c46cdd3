"""Checks shared by the fault tests: which collection saw a change, collection time bounds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rel_procs import Exporter, Scrape, durations, parse, success, value

INTERVAL = 1.0
"""--collect.interval of the exporters under test."""
TIMEOUT = 0.5
"""--podman.timeout of the exporters under test."""
COLLECTOR_BOUND = 3 * TIMEOUT + 0.25
"""Longest a collector may take: waiting for a pooled connection (one timeout), one
call (one timeout) and, for stats, the stats budget (max(timeout, interval / 2)),
plus scheduling slack."""
COLLECTION_BOUND = 5 * TIMEOUT
"""Longest a whole collection may take: containers, then stats (the longest chain)."""


def collection_seconds(scrape: Scrape) -> float:
    """Return how long the scraped collection took: the longest chain of collectors
    (containers then stats, in parallel with the others)."""
    d = durations(scrape)
    chain = d.get("containers", 0.0) + d.get("stats", 0.0)
    return max(chain, *(v for k, v in d.items() if k not in ("containers", "stats")))


def started_at(scrape: Scrape) -> float:
    """Return the Unix time at which the scraped collection started."""
    ended = value(scrape, "podman_exporter_last_collection_timestamp_seconds")
    assert ended is not None
    return ended - collection_seconds(scrape)


def after_change(exp: Exporter, changed: float, what: str,
                 figures: dict[str, Any] | None = None, within: float = 15) -> Scrape:
    """Return the first scrape of a collection that started after Unix time ``changed``;
    record how long after the change it was served as ``figures[what]``.

    The caller then asserts the collection saw the change: a state that is right in
    the first collection after a change is right "within one interval".
    """
    scrape, waited = exp.wait_for(lambda s: started_at(s) > changed, f"a collection after {what}",
                                  within)
    start_delay = started_at(scrape) - changed
    assert start_delay <= INTERVAL + 0.2, f"{what}: next collection began {start_delay:.2f}s later"
    check_bounds(scrape, what)
    if figures is not None:
        figures[f"faults.{what}.reaction_seconds"] = round(waited, 3)
    return scrape


def check_bounds(scrape: Scrape, what: str) -> None:
    """Assert every collector and the whole collection stayed within the timeout bounds."""
    for name, seconds in durations(scrape).items():
        assert seconds <= COLLECTOR_BOUND, f"{what}: collector {name} took {seconds:.3f}s"
    assert collection_seconds(scrape) <= COLLECTION_BOUND, what


def probe_for(exp: Exporter, seconds: float, check: Callable[[Scrape], None]) -> dict[str, float]:
    """Probe /metrics every 0.1 s for ``seconds``: every answer 200, ``check`` holding on
    each; return the probe count, the slowest probe and the longest collection seen."""
    end = time.monotonic() + seconds
    slowest = longest = 0.0
    count = 0
    while time.monotonic() < end:
        answer = exp.probe()
        assert answer.status == 200, answer
        scrape = parse(answer.body.decode())
        check(scrape)
        check_bounds(scrape, "probe")
        slowest = max(slowest, answer.seconds)
        longest = max(longest, collection_seconds(scrape))
        count += 1
        time.sleep(0.1)
    return {"probes": count, "slowest_probe_seconds": round(slowest, 4),
            "longest_collection_seconds": round(longest, 3)}


def all_up(scrape: Scrape) -> bool:
    """Return whether podman_up is 1 and every collector succeeded."""
    states = success(scrape)
    return value(scrape, "podman_up") == 1 and bool(states) and all(
        v == 1 for v in states.values())


def all_down(scrape: Scrape) -> bool:
    """Return whether podman_up is 0 and every collector failed."""
    states = success(scrape)
    return value(scrape, "podman_up") == 0 and bool(states) and all(
        v == 0 for v in states.values())
