"""Rate-limits an action (a collection asked for by Podman's events): at most
``max_per_second`` runs; the first request runs it at once, requests during the interval
that follows coalesce into one run at its end."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

Schedule = Callable[[float, Callable[[], None]], Callable[[], None]]
"""Run a function after a delay in seconds; return a function that cancels it."""


def thread_timer(delay: float, run: Callable[[], None]) -> Callable[[], None]:
    """Return the cancel function of a daemon ``threading.Timer`` running ``run`` after
    ``delay`` seconds."""
    timer = threading.Timer(delay, run)
    timer.daemon = True
    timer.start()
    return timer.cancel


class Debouncer:
    """Runs ``action`` at most ``max_per_second`` times a second; thread-safe.

    ``action`` runs in the thread that called ``poke`` (when it runs at once) or in the
    scheduler's (a timer thread by default): it should return quickly, as
    ``CollectionLoop.trigger`` does.
    """

    def __init__(self, action: Callable[[], None], max_per_second: float = 1.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 schedule: Schedule = thread_timer) -> None:
        if not max_per_second > 0:
            raise ValueError("max_per_second must be positive")
        self._action = action
        self._interval = 1.0 / max_per_second
        self._clock = clock
        self._schedule = schedule
        self._lock = threading.Lock()
        self._last: float | None = None
        self._cancel: Callable[[], None] | None = None
        self._stopped = False
        self.runs = 0
        """Times the action ran."""

    def poke(self) -> None:
        """Ask for a run: at once if the last run began at least ``1/max_per_second``
        ago, else one run when that interval ends (already planned: nothing more)."""
        with self._lock:
            if self._stopped or self._cancel is not None:
                return
            now = self._clock()
            wait = 0.0 if self._last is None else self._interval - (now - self._last)
            if wait > 0:
                self._cancel = self._schedule(wait, self._fire)
                return
            self._last = now
        self._run()

    def _fire(self) -> None:
        with self._lock:
            self._cancel = None
            if self._stopped:
                return
            self._last = self._clock()
        self._run()

    def _run(self) -> None:
        self.runs += 1
        try:
            self._action()
        except Exception:  # the caller is an event stream or a timer: nothing to raise to
            log.exception("debounced action failed")

    def stop(self) -> None:
        """Cancel a planned run; later pokes do nothing."""
        with self._lock:
            self._stopped = True
            cancel, self._cancel = self._cancel, None
        if cancel is not None:
            cancel()
