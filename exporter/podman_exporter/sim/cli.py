"""``podman-exporter simulate``: run the simulated Podman until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

from podman_exporter.config import parse_duration
from podman_exporter.sim.faults import ALL_METHODS, Faults
from podman_exporter.sim.options import SimOptions
from podman_exporter.sim.service import start_simulator

T = TypeVar("T")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's flags to ``parser`` (values are checked by ``run``)."""
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--address", help="varlink address: unix:/path or tcp:127.0.0.1:PORT")
    where.add_argument("--socket", help="unix socket path (same as --address unix:PATH)")
    parser.add_argument("--containers", default="100", help="containers at start (default 100)")
    parser.add_argument("--images", default="30", help="images at start (default 30)")
    parser.add_argument("--seed", default="1", help="fleet seed (default 1)")
    parser.add_argument("--churn", default="0", help="containers created and removed per minute")
    parser.add_argument("--latency", default="0s", help="fixed latency per call, e.g. 10ms")
    parser.add_argument("--jitter", default="0s", help="extra random latency up to this")
    parser.add_argument("--error-rate", default="0", help="fraction of calls answered with errors")
    parser.add_argument(
        "--error-kind", default="ErrorOccurred", help="ErrorOccurred (default) or RuntimeError"
    )
    parser.add_argument("--malformed-rate", default="0", help="fraction of records malformed")
    parser.add_argument("--hostile-names", action="store_true", help="hostile names and labels")
    parser.add_argument("--null-lists", action="store_true", help="empty lists sent as null")
    parser.add_argument(
        "--seed-naming", action="store_true", help="answer Info, not GetInfo (seed naming)"
    )
    parser.add_argument("--rest-socket", help="also serve the REST event stream "
                        "(GET /libpod/events) on this unix socket path")
    parser.add_argument("--crash-loopers", default="0",
                        help="containers that exit and restart every 5 s (default 0)")
    parser.add_argument("--events-flood", default="0", help="extra events per second")
    parser.add_argument("--events-drop-after", default="0",
                        help="cut each event stream after this many events (0: never)")


def _parse(flag: str, text: str, convert: Callable[[str], T], check: Callable[[T], bool]) -> T:
    try:
        value = convert(text)
    except ValueError as exc:
        raise ValueError(f"{flag}: {exc}") from None
    if not check(value):
        raise ValueError(f"{flag}: value {text!r} out of range")
    return value


def options_from_args(args: argparse.Namespace) -> tuple[str, SimOptions]:
    """Return the address and options the flags ask for; raises ValueError naming the flag."""

    def fraction(flag: str, text: str) -> float:
        return _parse(flag, text, float, lambda v: 0.0 <= v <= 1.0)

    address = args.address or f"unix:{args.socket}"
    if not address.startswith(("unix:", "tcp:")):
        raise ValueError(f"--address: {address!r} is not unix:PATH or tcp:HOST:PORT")
    error_rate = fraction("--error-rate", args.error_rate)
    faults = Faults(
        latency=_parse("--latency", args.latency, parse_duration, lambda v: v >= 0),
        jitter=_parse("--jitter", args.jitter, parse_duration, lambda v: v >= 0),
        error_rates={ALL_METHODS: error_rate} if error_rate else {},
        error_kind=_parse("--error-kind", args.error_kind, str, lambda v: v in Faults.kinds()),
        malformed_rate=fraction("--malformed-rate", args.malformed_rate),
        null_lists=args.null_lists,
        seed_naming=args.seed_naming,
        events_flood=_parse("--events-flood", args.events_flood, float,
                            lambda v: 0 <= v <= 1e6),
        events_drop_after=_parse("--events-drop-after", args.events_drop_after, int,
                                 lambda v: v >= 0),
    )
    options = SimOptions(
        containers=_parse("--containers", args.containers, int, lambda v: 0 <= v <= 1_000_000),
        images=_parse("--images", args.images, int, lambda v: 1 <= v <= 100_000),
        seed=_parse("--seed", args.seed, int, lambda v: True),
        churn_per_minute=_parse("--churn", args.churn, float, lambda v: v >= 0),
        hostile_names=args.hostile_names,
        faults=faults,
        crash_loopers=_parse("--crash-loopers", args.crash_loopers, int, lambda v: v >= 0),
    )
    return address, options


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT, then remove the socket; return the exit code."""
    try:
        address, options = options_from_args(args)
    except ValueError as exc:
        print(f"podman-exporter simulate: {exc}", file=sys.stderr)
        return 2
    try:
        handle = start_simulator(address, options)
    except OSError as exc:
        print(f"podman-exporter simulate: cannot listen on {address}: {exc}", file=sys.stderr)
        return 1
    if args.rest_socket:
        try:
            handle.serve_rest(args.rest_socket)
        except OSError as exc:
            handle.stop()
            print(f"podman-exporter simulate: cannot listen on {args.rest_socket}: {exc}",
                  file=sys.stderr)
            return 1
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print(
        f"simulated Podman listening on {handle.address} "
        f"({options.containers} containers, {options.images} images)",
        flush=True,
    )
    try:
        while not done.wait(1.0):
            pass
    finally:
        handle.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run; return the exit code."""
    parser = argparse.ArgumentParser(prog="podman-exporter simulate", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))
