"""REST collection cost on a private real Podman with ~40 containers, measured in one run.

Prints:
1. per-call cost of HTTP clients over the unix socket (http.client, httpx, the
   ``podman`` bindings when installed): wall time and client CPU per call;
2. bulk stats with explicit ``containers=`` ids vs for every container;
3. the bare REST calls one collection needs (raw HTTP, no parsing) vs
   RestBackend's full collection (the same calls with parsing) -> ratio,
   with and without ``info`` (which dominates: Podman takes ~0.25 s for it).

Run: ``python bench/rest_cycle.py [--containers 40] [--cycles 15]`` as root with podman.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))

from podman_env import IMAGE, PodmanEnv

from podman_exporter.podman.rest import RestBackend
from podman_exporter.podman.rest_http import API_PREFIX, UnixHTTPConnection


def measure(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Return (median wall seconds, mean CPU seconds of this process) per call of ``fn``."""
    fn()  # warm up: connections opened, caches filled
    walls: list[float] = []
    cpu0 = time.process_time()
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls), (time.process_time() - cpu0) / runs


def client_choice(env: PodmanEnv, runs: int) -> None:
    """Print per-call cost of each HTTP client for ``_ping`` and ``containers/json``."""
    sock = str(env.socket_path)
    paths = ("/_ping", "/containers/json?all=true")
    conn = UnixHTTPConnection(sock, 10)

    def stdlib(path: str) -> bytes:
        conn.request("GET", API_PREFIX + path)
        return conn.getresponse().read()

    clients: dict[str, Callable[[str], object]] = {"http.client (stdlib)": stdlib}
    try:
        import httpx

        hx = httpx.Client(transport=httpx.HTTPTransport(uds=sock), base_url="http://d")
        clients["httpx HTTPTransport(uds)"] = lambda p: hx.get(API_PREFIX + p).content
    except ImportError:
        print("httpx not installed: skipped")
    try:
        import podman

        pc = podman.PodmanClient(base_url=env.url)
        clients["podman bindings (requests)"] = lambda p: pc.api.get(p).content
        clients["podman bindings containers.list"] = (
            lambda p: pc.containers.list(all=True) if "containers" in p else pc.ping())
    except ImportError:
        print("podman bindings not installed: skipped")
    print(f"{'client':34} {'call':28} {'wall ms':>8} {'cpu ms':>8}")
    for name, call in clients.items():
        for path in paths:
            wall, cpu = measure(lambda c=call, p=path: c(p), runs)  # type: ignore[misc]
            print(f"{name:34} {path:28} {wall * 1e3:8.2f} {cpu * 1e3:8.2f}")


def main() -> int:
    """Run the benchmark; return 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--containers", type=int, default=40)
    ap.add_argument("--cycles", type=int, default=30)
    args = ap.parse_args()
    env = PodmanEnv(Path(tempfile.mkdtemp(prefix="pe-bench-", dir="/tmp")))
    try:
        env.setup()
        env.start_service()
        env.create_zoo()
        env.podman("stop", "-t", "0", env.names["busy"])  # a spinning core would add noise
        extra = max(0, args.containers - len(env.names) + 1)
        env.run_parallel([["run", "-d", "--network", env.network, "--name", f"bench-{i}",
                           IMAGE, "sleep", "100000"] for i in range(extra)])
        backend = RestBackend(env.url, timeout=30, connections=4)
        containers = backend.list_containers().items
        running = [c.id for c in containers if c.state.name == "RUNNING"]
        version = backend.host_info().items[0].version.version
        print(f"Podman {version}: {len(containers)} containers, "
              f"{len(running)} running\n")
        client_choice(env, runs=200)
        run_cycles(env, backend, running, args.cycles)
        backend.close()
    finally:
        env.teardown()
    return 0


def run_cycles(env: PodmanEnv, backend: RestBackend, running: list[str], cycles: int) -> None:
    """Print bare REST calls vs the backend's collection, interleaved in one run."""
    conn = UnixHTTPConnection(str(env.socket_path), 30)

    def raw(path: str) -> bytes:
        conn.request("GET", API_PREFIX + path)
        return conn.getresponse().read()

    ids = "&".join(f"containers={i}" for i in running)
    bare_calls: dict[str, Callable[[], object]] = {
        "containers": lambda: raw("/containers/json?all=true"),
        "stats": lambda: raw(f"/containers/stats?stream=false&{ids}"),
        "images": lambda: raw("/images/json"),
        "pods": lambda: raw("/pods/json"),
        "volumes": lambda: raw("/volumes/json"),
        "info": lambda: raw("/info"),
    }
    full_calls: dict[str, Callable[[], object]] = {
        "containers": backend.list_containers,
        "stats": lambda: backend.container_stats(running),
        "images": backend.list_images,
        "pods": backend.list_pods,
        "volumes": backend.list_volumes,
        "info": backend.host_info,
    }
    print(f"\nstats, all running ids: "
          f"{measure(bare_calls['stats'], 30)[0] * 1e3:.1f} ms; every container (no ids): "
          f"{measure(lambda: raw('/containers/stats?stream=false'), 30)[0] * 1e3:.1f} ms")
    bare: dict[str, list[float]] = {k: [] for k in bare_calls}
    full: dict[str, list[float]] = {k: [] for k in full_calls}
    cpu = {"bare": 0.0, "full": 0.0}
    # Interleaved call by call, alternating which goes first, so that neither side
    # always follows the slow info call or profits from Podman's warm caches.
    for cycle in range(cycles):
        for key, bare_call in bare_calls.items():
            pair = [("bare", bare_call, bare), ("full", full_calls[key], full)]
            for label, call, out in pair if cycle % 2 else pair[::-1]:
                c0, t0 = time.process_time(), time.perf_counter()
                call()
                out[key].append(time.perf_counter() - t0)
                cpu[label] += time.process_time() - c0
    # Other load on the machine only ever adds time: the best of N is the stable figure.
    for stat_name, stat in (("best", min), ("median", statistics.median)):
        print(f"\n{'call':12} {'bare ms':>9} {'backend ms':>11} {'ratio':>6}   "
              f"({stat_name} of {cycles})")
        for key in bare_calls:
            b, f = stat(bare[key]), stat(full[key])
            print(f"{key:12} {b * 1e3:9.2f} {f * 1e3:11.2f} {f / b:6.2f}")
        for title, keys in (("cycle", list(bare)),
                            ("cycle w/o info", [k for k in bare if k != "info"])):
            b = sum(stat(bare[k]) for k in keys)
            f = sum(stat(full[k]) for k in keys)
            print(f"{title:14} bare {b * 1e3:8.2f} ms  backend {f * 1e3:8.2f} ms  "
                  f"ratio {f / b:.2f}  (target <= 1.2)")
    print(f"client CPU per cycle: bare {cpu['bare'] / cycles * 1e3:.2f} ms, "
          f"backend {cpu['full'] / cycles * 1e3:.2f} ms")


if __name__ == "__main__":
    sys.exit(main())
