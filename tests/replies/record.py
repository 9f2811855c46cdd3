"""Record real Podman replies (REST and the varlink bridge) plus the host's ground truth.

Usage: ``.venv/bin/python tests/replies/record.py [--out DIR]`` (root, real Podman;
``./scripts/record-replies`` installs what is needed and runs this). The default DIR is
``tests/replies/podman-<major>.<minor>`` of the Podman that answered. See README.md here.

A private Podman (tests/e2e/podman_env.py) gets a fixed zoo of ``rec-*`` containers,
one download of exactly BLOB_SIZE bytes from ``rec-server`` to ``rec-client`` over the
private network, then everything is left idle and the replies are recorded raw over the
sockets (http.client on the REST socket, the varlink wire protocol on the bridge's socket),
with the containers' counters read just before and after each stats request and the
host's uptime around each info request, followed by the truth read from ``podman
inspect``, /proc and the cgroups. Everything is removed again afterwards.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
sys.path[:0] = [str(TESTS), str(TESTS / "e2e")]

from hostfacts import (  # noqa: E402
    cgroup_dirs,
    counters,
    meminfo_total,
    memory_stat,
    net_dev,
    read_int,
    uptime,
    wait_for_uptime_seconds,
)
from podman_env import BUSYBOX, PodmanEnv, busybox_rootfs, private_podman  # noqa: E402

from support import free_port  # noqa: E402

T = TypeVar("T")

API = "/v4.0.0/libpod"
IMAGE = "localhost/busybox:rec"
IMAGE_TAG2 = "localhost/rec-tagged:v1"
APPLETS = ("sh", "sleep", "true", "false", "cat", "echo", "ls", "env", "head", "dd",
           "wc", "nc", "httpd", "wget", "netstat", "mkdir")
NETWORK = "rec-net"
VOLUME = "rec-volume"
POD = "rec-pod"
BLOB_SIZE = 3_000_000
HTTP_PORT = 8000
INTERFACE = "io.projectatomic.podman"
QUIET_TRIES = 5
NAMES = {
    "running": "rec-running", "paused": "rec-paused", "exited": "rec-exited3",
    "created": "rec-created", "health": "rec-health", "labeled": "rec-labeled",
    "pod_infra": "rec-pod-infra", "pod_a": "rec-pod-a", "pod_b": "rec-pod-b",
    "server": "rec-server", "client": "rec-client",
}


# -- the zoo --------------------------------------------------------------------------


def create_zoo(env: PodmanEnv) -> dict[str, Any]:
    """Create the rec-* zoo and the traffic; return facts about it for truth.json."""
    env.podman("import", str(busybox_rootfs(env.base, "rec-rootfs.tar", APPLETS)), IMAGE)
    env.podman("tag", IMAGE, IMAGE_TAG2)
    subnet = env.podman("network", "inspect", env.network,
                        "--format", "{{range .Subnets}}{{.Subnet}}{{end}}").strip()
    # A subnet next to the one private_podman picked (random, so parallel runs don't clash).
    octets = subnet.split("/")[0].split(".")
    rec_subnet = f"10.{octets[1]}.{(int(octets[2]) + 1) % 256}.0/24"
    env.podman("network", "create", "--subnet", rec_subnet, "--label", "purpose=rec", NETWORK)
    env.podman("volume", "create", "--label", "purpose=rec", VOLUME)
    n = NAMES
    net = ("--network", NETWORK)
    sleep = (IMAGE, "sleep", "100000")
    port = free_port()
    env.podman("pod", "create", *net, "--name", POD, "--infra-name", n["pod_infra"])
    env.run_parallel([
        ["run", "-d", *net, "--name", n["running"], *sleep],
        ["run", "-d", *net, "--name", n["paused"], *sleep],
        ["run", "-d", *net, "--name", n["exited"], IMAGE, "sh", "-c", "exit 3"],
        ["create", *net, "--name", n["created"], *sleep],
        ["run", "-d", *net, "--name", n["health"], "--health-cmd", "true",
         "--health-interval", "1h", *sleep],
        ["run", "-d", *net, "--name", n["labeled"], "--label", "app=shop",
         "--label", "tier=web", "-p", f"127.0.0.1:{port}:80",
         "-v", f"{VOLUME}:/data", *sleep],
        ["run", "-d", "--pod", POD, "--name", n["pod_a"], *sleep],
        ["run", "-d", "--pod", POD, "--name", n["pod_b"], *sleep],
        ["run", "-d", *net, "--name", n["server"], IMAGE, "sh", "-c",
         f"mkdir -p /tmp/www && head -c {BLOB_SIZE} /dev/zero > /tmp/www/blob"
         f" && exec httpd -f -p {HTTP_PORT} -h /tmp/www"],
        ["run", "-d", *net, "--name", n["client"], *sleep],
    ])
    env.podman("pause", n["paused"])
    if env.podman("wait", n["exited"]).strip() != "3":
        raise RuntimeError(f"{n['exited']} did not exit with 3")
    # No systemd timer here: run the check once so the health becomes "healthy".
    env.podman("healthcheck", "run", n["health"])
    traffic = download(env)
    return {"published_port": port, "network": NETWORK, "subnet": rec_subnet, **traffic}


def download(env: PodmanEnv) -> dict[str, Any]:
    """Let rec-client fetch BLOB_SIZE bytes from rec-server's httpd; return what happened."""
    server, client = NAMES["server"], NAMES["client"]
    ip = env.podman("inspect", server, "--format",
                    f'{{{{(index .NetworkSettings.Networks "{NETWORK}").IPAddress}}}}').strip()
    deadline = time.monotonic() + 30
    # Readiness is checked inside the server (netstat), so no probe packet touches its counters.
    while f":{HTTP_PORT} " not in env.podman("exec", server, "netstat", "-ltn"):
        if time.monotonic() > deadline:
            raise RuntimeError("rec-server's httpd does not listen")
        time.sleep(0.1)
    got = env.podman("exec", client, "sh", "-c",
                     f"wget -q -O - http://{ip}:{HTTP_PORT}/blob | wc -c").strip()
    if got != str(BLOB_SIZE):
        raise RuntimeError(f"rec-client received {got} bytes, not {BLOB_SIZE}")
    time.sleep(2)  # TCP teardown done; from here on nothing runs in the zoo
    return {"server_ip": ip, "downloaded_bytes": int(got),
            "download": f"rec-client: wget http://{ip}:{HTTP_PORT}/blob (busybox httpd on "
                        f"rec-server), once; rec-server sends, rec-client receives"}


# -- the zoo as the host sees it ------------------------------------------------------


class Zoo:
    """Ids, states, pids and cgroup directories of the rec-* containers (one inspect)."""

    def __init__(self, env: PodmanEnv) -> None:
        docs = {d["Name"]: d for d in json.loads(env.podman("inspect", *NAMES.values()))}
        self.ids = {n: docs[n]["Id"] for n in NAMES.values()}
        self.states = {n: docs[n]["State"]["Status"] for n in NAMES.values()}
        self.pids = {n: int(docs[n]["State"].get("Pid") or 0) for n in NAMES.values()}
        self.dirs = {n: cgroup_dirs(pid) for n, pid in self.pids.items() if pid}
        self.live = [n for n in NAMES.values() if self.states[n] in ("running", "paused")]

    def counters(self, names: list[str]) -> dict[str, Any]:
        """Return the stats figures of these containers as the host has them now."""
        return {n: counters(self.pids[n], self.dirs[n]) for n in names}


def bracketed(zoo: Zoo, names: list[str], call: Callable[[], T]) -> tuple[T, dict[str, Any]]:
    """Return ``call()`` made between two readings of the containers' counters, and the
    window ``{"tries", "quiet", "before", "after"}``.

    Stray frames (IPv6 router solicitations, ARP) still reach the idle containers now and
    then: the call is made again, up to QUIET_TRIES times, until no counter moved during
    it (``quiet``). A test may then demand exact equality; otherwise it has the bounds.
    """
    tries = 0
    while True:
        tries += 1
        before = zoo.counters(names)
        result = call()
        after = zoo.counters(names)
        if before == after or tries == QUIET_TRIES:
            break
    return result, {"tries": tries, "quiet": before == after, "before": before, "after": after}


def clock_window(call: Callable[[], T]) -> tuple[T, dict[str, float]]:
    """Return ``call()`` and the wall clock and /proc/uptime read just before and after it."""
    window = {"wall_before": time.time(), "uptime_before": uptime()}
    result = call()
    window.update(wall_after=time.time(), uptime_after=uptime())
    return result, window


# -- REST -----------------------------------------------------------------------------


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client on a unix socket."""

    def __init__(self, path: str, timeout: float = 60.0) -> None:
        super().__init__("d", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        """Connect to the unix socket."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


def rest_get(env: PodmanEnv, path: str, query: list[tuple[str, str]]) -> dict[str, Any]:
    """Return one GET as the recorded document (headers as sent, body decoded JSON)."""
    conn = UnixHTTPConnection(str(env.socket_path))
    try:
        conn.request("GET", f"{path}?{urlencode(query)}" if query else path)
        resp = conn.getresponse()
        raw = resp.read()
        headers: dict[str, str] = {}
        for key, value in resp.getheaders():
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        if resp.status != 200:
            raise RuntimeError(f"GET {path} {query}: HTTP {resp.status}: {raw[:200]!r}")
        return {"method": "GET", "path": path, "query": [list(q) for q in query],
                "status": resp.status, "headers": headers, "body": json.loads(raw)}
    finally:
        conn.close()


def record_rest(env: PodmanEnv, zoo: Zoo, out: Path,
                windows: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Record the REST replies into out/rest (the queries the exporter sends); return them
    by file name. ``windows`` gets the counters around ``stats`` and the clocks around
    ``info``."""
    requests: list[tuple[str, str, list[tuple[str, str]]]] = [
        ("containers", f"{API}/containers/json", [("all", "true")]),
        ("containers-size", f"{API}/containers/json", [("all", "true"), ("size", "true")]),
        ("stats", f"{API}/containers/stats",
         [("stream", "false"), *(("containers", zoo.ids[n]) for n in zoo.live)]),
        ("stats-all", f"{API}/containers/stats", [("stream", "false"), ("all", "true")]),
        ("images", f"{API}/images/json", [("all", "true")]),
        ("info", f"{API}/info", []),
        ("version", f"{API}/version", []),
        ("pods", f"{API}/pods/json", []),
        ("volumes", f"{API}/volumes/json", []),
        ("networks", f"{API}/networks/json", []),
    ]
    replies = {}
    for name, path, query in requests:
        get = partial(rest_get, env, path, query)
        if name == "stats":
            replies[name], windows["rest_stats"] = bracketed(zoo, zoo.live, get)
        elif name == "info":
            wait_for_uptime_seconds()
            replies[name], windows["rest_info"] = clock_window(get)
        else:
            replies[name] = get()
        write(out / "rest" / f"{name}.json", replies[name])
    return replies


# -- varlink (through our bridge) -----------------------------------------------------


@contextmanager
def bridge(env: PodmanEnv) -> Iterator[str]:
    """Yield the address of our varlink bridge served in-process from the REST socket."""
    from podman_exporter.podman.bridge import make_server

    address = f"unix:{env.base / 'varlink.sock'}"
    server = make_server(address, env.url, timeout=30.0, connections=4)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield address
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def varlink_call(sock: socket.socket, method: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """Return the raw decoded reply message of one call on a varlink connection."""
    sock.sendall(json.dumps({"method": method, "parameters": parameters}).encode() + b"\0")
    buf = b""
    while not buf.endswith(b"\0"):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"{method}: connection closed")
        buf += chunk
    reply: dict[str, Any] = json.loads(buf[:-1])
    return reply


def wait_for_sizes(sock: socket.socket) -> None:
    """Return once the bridge's ListContainers carries every container's sizes.

    The bridge measures sizes in the background and leaves them out until it has
    (SizeCache in podman/bridge.py); a client's first listing starts the measurement.
    """
    deadline = time.monotonic() + 60
    while True:
        reply = varlink_call(sock, f"{INTERFACE}.ListContainers", {})
        listed = reply.get("parameters", {}).get("containers") or []
        if len(listed) == len(NAMES) and all("rootfssize" in c for c in listed):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the bridge did not measure the container sizes within 60 s")
        time.sleep(0.2)


def record_varlink(env: PodmanEnv, zoo: Zoo, out: Path, windows: dict[str, Any]) -> None:
    """Record the bridge's replies into out/varlink, with the calls the exporter's
    VarlinkBackend makes (GetContainerStats by full id); ``windows`` gets the counters
    around each GetContainerStats of a live container and the clocks around GetInfo.

    The connection comes from the varlink package's Client; messages are written and read
    as they go over the wire, because the package's call handler rewrites replies through
    the interface (drops unknown fields, fills absent ones, rounds floats to ints).
    """
    import varlink

    calls: list[tuple[str, str, dict[str, Any]]] = [
        (m, m, {}) for m in ("GetVersion", "GetInfo", "ListContainers", "ListImages")]
    calls += [(f"GetContainerStats-{n}", "GetContainerStats", {"name": zoo.ids[n]})
              for n in NAMES.values()]
    windows["varlink_stats"] = {}
    with bridge(env) as address:
        client = varlink.Client(address=address)
        sock = client.open_connection()
        sock.settimeout(60)
        try:
            wait_for_sizes(sock)
            for file_name, method, params in calls:
                full = f"{INTERFACE}.{method}"
                call = partial(varlink_call, sock, full, params)
                container = file_name.removeprefix("GetContainerStats-")
                if method == "GetInfo":
                    wait_for_uptime_seconds()
                    message, windows["varlink_info"] = clock_window(call)
                elif container in zoo.live:
                    message, windows["varlink_stats"][container] = bracketed(
                        zoo, [container], call)
                else:
                    message = call()
                doc: dict[str, Any] = {"method": full, "parameters": params}
                if "error" in message:
                    doc["error"] = message["error"]
                    doc["error_parameters"] = message.get("parameters", {})
                else:
                    doc["reply"] = message.get("parameters", {})
                write(out / "varlink" / f"{file_name}.json", doc)
        finally:
            sock.close()
            client.cleanup()


# -- ground truth ---------------------------------------------------------------------


def net_before(zoo: Zoo) -> dict[str, dict[str, int] | None]:
    """Return eth0 counters of every container that has a pid, by name."""
    return {n: net_dev(pid).get("eth0") for n, pid in zoo.pids.items() if pid}


def container_truth(env: PodmanEnv, name: str, sizes: dict[str, Any],
                    before: dict[str, dict[str, int] | None]) -> dict[str, Any]:
    """Return the truth about one container."""
    doc = json.loads(env.podman("inspect", name))[0]
    state = doc["State"]
    pid = int(state.get("Pid") or 0)
    truth: dict[str, Any] = {
        "id": doc["Id"], "name": doc["Name"], "state": state["Status"],
        "exit_code": state["ExitCode"], "pid": pid, "pod": doc.get("Pod") or None,
        "health": (state.get("Health") or state.get("Healthcheck") or {}).get("Status"),
        "size": sizes.get(doc["Id"]),
    }
    if pid:
        truth["eth0"] = net_dev(pid).get("eth0")
        truth["eth0_before_replies"] = before.get(name)
        dirs = cgroup_dirs(pid)
        mem = dirs.get("memory")
        truth["cgroup"] = {
            "cpuacct_dir": str(dirs.get("cpuacct")),
            "cpuacct.usage_ns": read_int(dirs["cpuacct"] / "cpuacct.usage"),
            "memory.usage_in_bytes": read_int(mem / "memory.usage_in_bytes") if mem else None,
            "memory.limit_in_bytes": read_int(mem / "memory.limit_in_bytes") if mem else None,
            "memory.stat": memory_stat(mem / "memory.stat") if mem else {},
            "pids.current": read_int(dirs["pids"] / "pids.current") if "pids" in dirs else None,
        }
    return truth


def image_truth(env: PodmanEnv) -> list[dict[str, Any]]:
    """Return ``podman images`` entries (one per tag) with each image's arch and OS."""
    images = []
    for i in json.loads(env.podman("images", "--format", "json")):
        arch, _, os_name = env.podman("image", "inspect", i["Id"], "--format",
                                      "{{.Architecture}} {{.Os}}").strip().partition(" ")
        images.append({"id": i.get("Id"), "names": i.get("Names"), "size": i.get("Size"),
                       "virtual_size": i.get("VirtualSize"), "arch": arch, "os": os_name})
    return images


HOW = {
    "containers[].id/name/state/exit_code/pid/pod/health":
        "podman inspect <name>: Id, Name, State.Status, State.ExitCode, State.Pid, Pod, "
        "State.Health.Status",
    "containers[].size": "podman ps -a --size --format json: Size (rootFsSize, rwSize) "
                         "of the entry with that Id, as podman reports it",
    "containers[].eth0":
        "/proc/<pid>/net/dev, line eth0 (the container's net namespace seen from the host; "
        "pod members share the infra container's namespace): rx/tx bytes, packets, errs, "
        "drop; read with the truth, after the REST replies",
    "containers[].eth0_before_replies": "the same, read just before the first REST request "
                                        "(shows how still the counters were)",
    "containers[].cgroup": "cgroup v1 directories from /proc/<pid>/cgroup under "
                           "/sys/fs/cgroup/<controller>/: cpuacct.usage (ns), "
                           "memory.usage_in_bytes, memory.limit_in_bytes, memory.stat "
                           "(selected keys), pids.current; read with the truth",
    "containers[].at_rest_stats": "before/after: every interface of /proc/<pid>/net/dev "
                                  "(lo included), cpuacct.usage, memory.usage_in_bytes, "
                                  "pids.current, read just before and just after the GET of "
                                  "rest/stats.json (windows.rest_stats says if they moved)",
    "containers[].at_varlink_stats": "the same around this container's GetContainerStats "
                                     "call to the bridge",
    "windows": "rest_stats / varlink_stats.<name>: tries (the request is repeated, at most "
               f"{QUIET_TRIES} times, until no counter moved during it) and quiet (none "
               "moved during the recorded one); rest_info / varlink_info: time.time() and "
               "/proc/uptime (first field) just before and just after the info request",
    "images": "podman images --format json: Id, Names, Size, VirtualSize (the CLI lists "
              "an image once per tag); arch, os: podman image inspect .Architecture .Os",
    "host.mem_total_bytes": "MemTotal of /proc/meminfo x 1024",
    "host.nproc": "output of nproc; host.cpu_count: os.cpu_count()",
    "traffic": "one busybox wget in rec-client from busybox httpd in rec-server, checked "
               "with wc -c; the containers are idle afterwards",
    "order": "zoo, traffic, 2 s idle, the REST replies (info once the uptime's seconds are "
             "in 35-55), this truth (containers' counters first), then the varlink replies "
             "(after the bridge measured the sizes; GetInfo at uptime seconds 35-55)",
}


def container_truths(env: PodmanEnv, zoo: Zoo,
                     before: dict[str, dict[str, int] | None]) -> list[dict[str, Any]]:
    """Return the truth about every container, read now."""
    sizes = {c["Id"]: c.get("Size") for c in
             json.loads(env.podman("ps", "-a", "--size", "--format", "json"))}
    return [container_truth(env, n, sizes, before) for n in NAMES.values()]


def truth_doc(env: PodmanEnv, containers: list[dict[str, Any]], facts: dict[str, Any],
              windows: dict[str, Any]) -> dict[str, Any]:
    """Return truth.json: the containers (with their counter windows), images, host."""
    for c in containers:
        for key, window in (("at_rest_stats", windows["rest_stats"]),
                            ("at_varlink_stats", windows["varlink_stats"].get(c["name"]))):
            if window and c["name"] in window["before"]:
                c[key] = {"before": window["before"][c["name"]],
                          "after": window["after"][c["name"]]}
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout

    def how(w: dict[str, Any]) -> dict[str, Any]:
        return {"tries": w["tries"], "quiet": w["quiet"]}

    return {
        "how": HOW,
        "podman_version": env.podman("version", "--format", "{{.Client.Version}}").strip(),
        "zoo": {"names": NAMES, "pod": POD, "volume": VOLUME,
                "images": [IMAGE, IMAGE_TAG2, "localhost/busybox:e2e (from private_podman)"],
                "blob_size": BLOB_SIZE},
        "traffic": facts,
        "windows": {"rest_info": windows["rest_info"], "varlink_info": windows["varlink_info"],
                    "rest_stats": how(windows["rest_stats"]),
                    "varlink_stats": {n: how(w) for n, w in windows["varlink_stats"].items()}},
        "containers": containers,
        "images": image_truth(env),
        "host": {"mem_total_bytes": meminfo_total(), "nproc": int(nproc),
                 "cpu_count": os.cpu_count()},
    }

# -- main -----------------------------------------------------------------------------


def write(path: Path, doc: Any) -> None:
    """Write ``doc`` as JSON (indent 1, keys in their order) with a final newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, sort_keys=False, ensure_ascii=False) + "\n")


def check_tools() -> None:
    """Exit with one line when podman, runc or busybox is missing, or not root."""
    missing = [t for t in ("podman", "runc") if shutil.which(t) is None]
    if not os.path.exists(BUSYBOX):
        missing.append(BUSYBOX)
    if missing:
        sys.exit(f"record.py: missing {', '.join(missing)} (./scripts/record-replies installs "
                 "them)")
    if os.geteuid() != 0:
        sys.exit("record.py: needs root (the truth reads /proc/<pid> of the containers)")


def summary(replies: dict[str, dict[str, Any]], truth: dict[str, Any]) -> str:
    """Return lines comparing stats.json's network bytes with the eth0 counters read
    around that request, and how many tries a quiet window took."""
    by_id = {c["id"]: c for c in truth["containers"]}
    w = truth["windows"]
    lines = [f"  rest stats: {w['rest_stats']}; varlink stats: "
             f"{sum(v['quiet'] for v in w['varlink_stats'].values())} of "
             f"{len(w['varlink_stats'])} quiet, tries "
             f"{[v['tries'] for v in w['varlink_stats'].values()]}; "
             f"uptime seconds at info: {w['rest_info']['uptime_before'] % 60:.2f}"]
    for stat in replies["stats"]["body"].get("Stats") or []:
        c = by_id.get(stat.get("ContainerID"), {})
        eth = ((c.get("at_rest_stats") or {}).get("after") or {}).get("net", {}).get("eth0", {})
        lines.append(f"  {c.get('name', '?'):14} stats NetInput={stat.get('NetInput')} "
                     f"NetOutput={stat.get('NetOutput')}  /proc rx={eth.get('rx_bytes')} "
                     f"tx={eth.get('tx_bytes')}")
    return "\n".join(lines)


def main() -> int:
    """Record everything; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="output directory "
                        "(default: tests/replies/podman-<major>.<minor>)")
    args = parser.parse_args()
    check_tools()
    started = time.monotonic()
    with private_podman("pe-rec-") as env:
        try:
            facts = create_zoo(env)
            version = env.podman("version", "--format", "{{.Client.Version}}").strip()
            out = args.out or HERE / f"podman-{'.'.join(version.split('.')[:2])}"
            for sub in ("rest", "varlink"):
                for old in (out / sub).glob("*.json"):
                    old.unlink()  # a re-run leaves no file of an earlier zoo behind
            (out / "truth.json").unlink(missing_ok=True)
            windows: dict[str, Any] = {}
            recorded = time.monotonic()
            zoo = Zoo(env)
            before = net_before(zoo)
            replies = record_rest(env, zoo, out, windows)
            containers = container_truths(env, zoo, before)
            record_varlink(env, zoo, out, windows)
            truth = truth_doc(env, containers, facts, windows)
            write(out / "truth.json", truth)
            took = time.monotonic() - recorded
        finally:
            # private_podman removes the rest; rec-net's bridge goes with `network rm`.
            for cmd in (("pod", "rm", "-af", "-t", "0"), ("rm", "-af", "-t", "0"),
                        ("network", "rm", "-f", NETWORK)):
                env.podman(*cmd, check=False)
    print(f"Podman {version}: recorded into {out} (replies and truth {took:.1f} s, "
          f"all {time.monotonic() - started:.1f} s)")
    print(summary(replies, truth))
    return 0


if __name__ == "__main__":
    sys.exit(main())
