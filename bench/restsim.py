"""A simulated Podman REST service for benchmarks: recorded replies, scaled to a fleet.

``podman-exporter simulate`` speaks varlink only; this serves the libpod REST calls a
collection makes (``containers/json``, bulk ``containers/stats``, ``images/json``,
``info``, ``pods/json``, ``volumes/json``, ``version``, ``_ping``) on a unix socket,
built from Podman 4.3.1's recorded replies (tests/replies/podman-4.3/rest): every
container is a copy of a recorded running one (``rec-running``, ``rec-labeled``,
``rec-health`` in turn) with its own id, name and counters, and all of them run, as in
the fleet of 100 running containers the exporter's CPU was first measured on. Replies
go out as real Podman sends them: one chunk of ``Transfer-Encoding: chunked`` JSON with
the ``Server: Libpod/4.3.1 (linux)`` header. Counters grow with every stats call.

Run: ``python -m bench.restsim --socket PATH [--containers 100]`` (until SIGTERM).
"""

from __future__ import annotations

import argparse
import copy
import json
import signal
import socketserver
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

REPLIES = Path(__file__).resolve().parents[1] / "tests" / "replies" / "podman-4.3" / "rest"
TEMPLATES = ("rec-running", "rec-labeled", "rec-health")
PREFIX = "/v4.0.0/libpod"
HEADERS = {"Api-Version": "1.41", "Content-Type": "application/json",
           "Libpod-Api-Version": "4.3.1", "Server": "Libpod/4.3.1 (linux)"}


def _body(name: str) -> Any:
    return json.loads((REPLIES / f"{name}.json").read_text())["body"]


class Fleet:
    """The simulated containers and the replies built from them."""

    def __init__(self, containers: int) -> None:
        listing = {c["Names"][0]: c for c in _body("containers")}
        stats = {s["Name"]: s for s in _body("stats")["Stats"]}
        self.containers: list[dict[str, Any]] = []
        self.stats: dict[str, dict[str, Any]] = {}
        for i in range(containers):
            template = TEMPLATES[i % len(TEMPLATES)]
            cid = f"{i:08x}" + "c0ffee" * 9 + f"{i:02x}"[-2:]
            name = f"sim-{i:05d}"
            record = copy.deepcopy(listing[template])
            record.update(Id=cid, Names=[name], Pid=10_000 + i)
            self.containers.append(record)
            entry = copy.deepcopy(stats[template])
            entry.update(ContainerID=cid, Name=name, MemUsage=entry["MemUsage"] + i * 4096,
                         PIDs=1 + i % 7)
            self.stats[cid] = entry
        self.others: dict[str, Any] = {}
        for path in sorted(REPLIES.glob("*.json")):  # images, info, pods, volumes, networks...
            recorded = json.loads(path.read_text())
            target = recorded["path"].removeprefix(PREFIX)
            if not target.startswith("/containers/"):
                self.others[target] = recorded["body"]
        self._lock = threading.Lock()
        self.calls = 0

    def stats_reply(self, ids: list[str]) -> dict[str, Any]:
        """Return the bulk stats of ``ids`` (every container when empty), counters grown."""
        with self._lock:
            chosen = [self.stats[i] for i in ids if i in self.stats] if ids \
                else list(self.stats.values())
            for n, entry in enumerate(chosen):
                grow = 1_000_000 + n * 1_000
                entry["CPUNano"] += grow
                entry["CPUSystemNano"] += grow // 4
                entry["UpTime"] += 1_000_000_000
                entry["Duration"] = entry["UpTime"]
                entry["NetInput"] += 100 + n
                entry["NetOutput"] += 300 + n
                entry["BlockInput"] += 4096
                entry["BlockOutput"] += 8192
                entry["SystemNano"] += 1_000_000_000
            return {"Error": None, "Stats": [dict(e) for e in chosen]}

    def reply(self, target: str) -> tuple[int, Any]:
        """Return (status, JSON value) for a request target."""
        parts = urlsplit(target)
        path = parts.path.removeprefix(PREFIX)
        query = parse_qsl(parts.query)
        self.calls += 1
        if path == "/containers/json":
            return 200, self.containers
        if path == "/containers/stats":
            return 200, self.stats_reply([v for k, v in query if k == "containers"])
        if path in self.others:
            return 200, self.others[path]
        return 404, {"cause": "no such path", "message": f"{path}: not found", "response": 404}


class _Handler(socketserver.StreamRequestHandler):
    """HTTP/1.1 keep-alive GETs, request heads up to 1 MiB (Go's default limit: a bulk
    stats request names every running container)."""

    server: _Server

    def handle(self) -> None:
        while True:
            line = self.rfile.readline(1 << 20)
            if not line:
                return
            while self.rfile.readline(1 << 16) not in (b"\r\n", b"\n", b""):
                pass  # headers: none matter here
            target = line.split(b" ")[1].decode("latin-1")
            if target == "/_ping":
                self._send(200, b"OK", "text/plain; charset=utf-8")
                continue
            if urlsplit(target).path == PREFIX + "/events":
                self._events("stream=false" not in target)
                continue
            status, value = self.server.fleet.reply(target)
            self._send(status, json.dumps(value).encode() + b"\n", HEADERS["Content-Type"])

    def _events(self, stream: bool) -> None:
        """Answer the event log: nothing happens in this fleet, so a stream stays open
        and silent until the server stops (as Podman's does between events)."""
        self.wfile.write(self._head(200, HEADERS["Content-Type"]))
        self.wfile.flush()
        if stream:
            self.server.stopping.wait()
        self.wfile.write(b"0\r\n\r\n")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.wfile.write(self._head(status, content_type)
                         + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))

    @staticmethod
    def _head(status: int, content_type: str) -> bytes:
        head = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}"]
        head += [f"{k}: {content_type if k == 'Content-Type' else v}"
                 for k, v in HEADERS.items()]
        head.append("Transfer-Encoding: chunked")
        return ("\r\n".join(head) + "\r\n\r\n").encode()


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    fleet: Fleet
    stopping: threading.Event


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; return 0."""
    parser = argparse.ArgumentParser(prog="python -m bench.restsim",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True, help="unix socket path")
    parser.add_argument("--containers", type=int, default=100)
    args = parser.parse_args(argv)
    return serve(args.socket, _Handler, Fleet(args.containers))


def serve(path: str, handler: type[socketserver.BaseRequestHandler], fleet: Fleet) -> int:
    """Serve ``fleet`` with ``handler`` on the unix socket ``path`` until SIGTERM or ^C;
    return 0."""
    Path(path).unlink(missing_ok=True)
    server = _Server(path, handler)
    server.fleet = fleet
    server.stopping = threading.Event()

    def stop(*_: object) -> None:
        server.stopping.set()
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"listening on {path} ({len(fleet.containers)} containers)", flush=True)
    try:
        server.serve_forever(poll_interval=1.0)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        Path(path).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
