"""A simulated REST Podman whose event stream floods on demand, for bench/events.py.

The collection calls are bench/restsim.py's (its Fleet and handler, subclassed). An open
``GET /v4.0.0/libpod/events?stream=true`` stays silent until a flood is asked for, then
sends ``rate`` events a second for ``seconds``, each one Podman-4.3-shaped JSON line in
its own chunk, as Podman flushes each event (sim/events.py's ``event_record``), stamped
with a strictly growing ``timeNano``; events due at once go out in one write (with
``every``, writes are that many seconds apart, each carrying the events due). Container
events on the fleet's ids, per 100: 48 ``exec`` and 48 ``exec_died`` (no refresh in the
exporter: collect/events.py REFRESH_EVENTS), 2 ``health_status`` (a refresh of the
containers), 1 ``died`` and 1 ``start`` (refreshes, an exit counted).

Control, on the same socket: ``GET /bench/flood?rate=R&seconds=S[&every=E]`` starts a flood on
every open stream and answers at once; ``GET /bench/status`` answers JSON: open
streams, events written, by action, whether the flood is over and how long it took.

Run: ``python -m bench.floodsim --socket PATH [--containers 100]`` (until SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bench import restsim
from podman_exporter.sim.events import event_record

PATTERN = ("died", "start", "health_status", "health_status", *(("exec", "exec_died") * 48))
"""The actions of every 100 events, in order."""


class Flood:
    """The flood asked for, and what every stream wrote of it; thread-safe."""

    def __init__(self, fleet: restsim.Fleet) -> None:
        self.targets = [(c["Id"], c["Names"][0], c["Image"]) for c in fleet.containers]
        self._changed = threading.Condition()
        self.generation = 0
        self.rate = 0.0
        self.seconds = 0.0
        self.every = 0.0
        self.streams = 0
        self.pouring = 0
        self.sent: Counter[str] = Counter()
        self.elapsed = 0.0
        self._last_nano = 0

    def start(self, rate: float, seconds: float, every: float = 0.0) -> None:
        """Start a flood on every open stream."""
        with self._changed:
            self.generation += 1
            self.rate, self.seconds, self.every = rate, seconds, every
            self.sent.clear()
            self.elapsed = 0.0
            self.pouring = self.streams
            self._changed.notify_all()

    def wait(self, seen: int,
             stop: threading.Event) -> tuple[int, float, float, float] | None:
        """Wait for a flood newer than generation ``seen``; None once ``stop`` is set."""
        with self._changed:
            while self.generation == seen:
                if stop.is_set():
                    return None
                self._changed.wait(0.5)
            return self.generation, self.rate, self.seconds, self.every

    def line(self, n: int) -> tuple[str, bytes]:
        """Return the action and the chunk of event number ``n`` of a flood."""
        action = PATTERN[n % len(PATTERN)]
        block, place = divmod(n, len(PATTERN))
        # died and start hit the same container; the others go round the fleet
        cid, name, image = self.targets[(block if place < 2 else n) % len(self.targets)]
        with self._changed:
            self._last_nano = max(time.time_ns(), self._last_nano + 1)
            nano = self._last_nano
        record = event_record("container", action, cid, name=name, image=image,
                              time_nano=nano, exit_code=1 if action == "died" else 0)
        if action == "health_status":
            record["HealthStatus"] = "healthy"
        body = json.dumps(record, separators=(",", ":")).encode() + b"\n"
        return action, b"%x\r\n%s\r\n" % (len(body), body)

    def wrote(self, actions: Counter[str]) -> None:
        """Count events a stream wrote."""
        with self._changed:
            self.sent.update(actions)

    def ended(self, elapsed: float) -> None:
        """Note that a stream finished pouring the flood."""
        with self._changed:
            self.pouring -= 1
            self.elapsed = max(self.elapsed, elapsed)

    def opened(self, delta: int) -> None:
        """Count a stream opened (1) or closed (-1)."""
        with self._changed:
            self.streams += delta

    def status(self) -> dict[str, Any]:
        """Return the state of the flood as JSON values."""
        with self._changed:
            return {"streams": self.streams, "generation": self.generation,
                    "sent": sum(self.sent.values()), "by_action": dict(self.sent),
                    "done": self.pouring == 0, "elapsed": self.elapsed}


class FloodFleet(restsim.Fleet):
    """restsim's fleet, plus the flood's control calls."""

    flood: Flood

    def reply(self, target: str) -> tuple[int, Any]:
        """Answer the control calls; anything else as restsim does."""
        parts = urlsplit(target)
        if parts.path == "/bench/flood":
            query = dict(parse_qsl(parts.query))
            self.flood.start(float(query["rate"]), float(query["seconds"]),
                             float(query.get("every", 0.0)))
            return 200, self.flood.status()
        if parts.path == "/bench/status":
            return 200, self.flood.status()
        return super().reply(target)


class FloodHandler(restsim._Handler):
    """restsim's handler with a stream that floods when asked."""

    def _events(self, stream: bool) -> None:
        self.wfile.write(self._head(200, restsim.HEADERS["Content-Type"]))
        self.wfile.flush()
        if not stream:
            self.wfile.write(b"0\r\n\r\n")
            return
        flood: Flood = self.server.fleet.flood  # type: ignore[attr-defined]
        flood.opened(1)
        try:
            seen = flood.generation
            while (plan := flood.wait(seen, self.server.stopping)) is not None:
                seen, rate, seconds, every = plan
                self._pour(flood, rate, seconds, every)
        except OSError:
            return
        finally:
            flood.opened(-1)
        self.wfile.write(b"0\r\n\r\n")

    def _pour(self, flood: Flood, rate: float, seconds: float, every: float) -> None:
        """Write ``rate`` events a second for ``seconds`` (event n is due at n / rate), the
        writes at least ``every`` seconds apart."""
        total, sent, start = round(rate * seconds), 0, time.monotonic()
        try:
            while sent < total and not self.server.stopping.is_set():
                due = min(total, int((time.monotonic() - start) * rate) + 1)
                if due <= sent:
                    time.sleep(max(0.0, start + sent / rate - time.monotonic()))
                    continue
                actions: Counter[str] = Counter()
                chunks = []
                for n in range(sent, due):
                    action, chunk = flood.line(n)
                    actions[action] += 1
                    chunks.append(chunk)
                self.wfile.write(b"".join(chunks))
                flood.wrote(actions)
                sent = due
                if every > 0:
                    time.sleep(every)
        finally:
            flood.ended(time.monotonic() - start)


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; return 0."""
    parser = argparse.ArgumentParser(prog="python -m bench.floodsim",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True, help="unix socket path")
    parser.add_argument("--containers", type=int, default=100)
    args = parser.parse_args(argv)
    fleet = FloodFleet(args.containers)
    fleet.flood = Flood(fleet)
    return restsim.serve(args.socket, FloodHandler, fleet)

if __name__ == "__main__":
    sys.exit(main())
