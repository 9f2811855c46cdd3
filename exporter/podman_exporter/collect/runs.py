"""Running the collectors of one collection: one run each, its outcome, error and time."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from podman_exporter.collect.collectors import CollectorSpec, Fetch, Outcome
from podman_exporter.podman.backend import PodmanBackend, PodmanError, Unsupported

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Run:
    """What one collector did in one collection."""

    outcome: Outcome | None = None
    error: str | None = None
    unsupported: bool = False
    seconds: float = 0.0
    skipped: bool = False
    """A slow collector whose data is not yet due, or one a refresh leaves out: it did
    not run."""
    started: float = 0.0
    """``time.monotonic`` when the fetch began (a listing's time for the event counts)."""


def wait(futures: Mapping[str, Future[None]], runs: Mapping[str, Run]) -> None:
    """Wait for every run started; an exception escaping one is its failure."""
    for name, future in futures.items():
        try:
            future.result()
        except Exception as exc:  # run_one catches its own; this is a last resort
            runs[name].error = runs[name].error or f"internal error: {exc!r}"


def run_one(spec: CollectorSpec, fetch: Fetch, backend: PodmanBackend,
            needs: Sequence[Future[None]], runs: Mapping[str, Run]) -> None:
    """Run one collector once its prerequisites ended; fill its Run in ``runs``."""
    for need in needs:
        need.result()
    run = runs[spec.name]
    done = {}
    for name in spec.requires:
        outcome = runs[name].outcome if name in runs else None
        if outcome is None:
            run.error = f"skipped: the {name} collector did not answer"
            return
        done[name] = outcome.value
    started = time.perf_counter()
    run.started = time.monotonic()
    try:
        run.outcome = fetch(backend, done)
        run.error = run.outcome.error
    except Unsupported:
        run.unsupported = True
    except PodmanError as exc:
        run.error = str(exc)
    except Exception as exc:  # a parser bug must cost one collector, not the loop
        log.exception("collector %s crashed", spec.name)
        run.error = f"internal error: {exc!r}"
    run.seconds = time.perf_counter() - started
