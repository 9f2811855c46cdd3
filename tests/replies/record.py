"""Record real Podman replies (REST and the varlink bridge) plus the host's ground truth.

Usage: ``.venv/bin/python tests/replies/record.py [--out DIR]`` (root, real Podman;
``./scripts/record-replies`` installs what is needed and runs this). The default DIR is
``tests/replies/podman-<major>.<minor>`` of the Podman that answered. See README.md here.

A private Podman (tests/e2e/podman_env.py) gets a fixed zoo of ``rec-*`` containers,
one download of exactly BLOB_SIZE bytes from ``rec-server`` to ``rec-client`` over the
private network, then everything is left idle and the replies are recorded raw over the
sockets (http.client on the REST socket, the varlink wire protocol on the bridge's socket),
followed at once by the truth read from ``podman inspect``, /proc and the cgroups.
Everything is removed again afterwards.
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
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
sys.path[:0] = [str(TESTS), str(TESTS / "e2e")]

from podman_env import BUSYBOX, PodmanEnv, private_podman  # noqa: E402

from support import free_port  # noqa: E402

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
NAMES = {
    "running": "rec-running", "paused": "rec-paused", "exited": "rec-exited3",
    "created": "rec-created", "health": "rec-health", "labeled": "rec-labeled",
    "pod_infra": "rec-pod-infra", "pod_a": "rec-pod-a", "pod_b": "rec-pod-b",
    "server": "rec-server", "client": "rec-client",
}


# -- the zoo --------------------------------------------------------------------------


def rootfs(dest: Path) -> Path:
    """Return a rootfs tar holding busybox-static and APPLETS (busybox_rootfs, more applets)."""
    tar_path = dest / "rec-rootfs.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(os.path.realpath(BUSYBOX), arcname="bin/busybox")
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
        tmp = tarfile.TarInfo("tmp")
        tmp.type, tmp.mode = tarfile.DIRTYPE, 0o1777
        tar.addfile(tmp)
    return tar_path


def create_zoo(env: PodmanEnv) -> dict[str, Any]:
    """Create the rec-* zoo and the traffic; return facts about it for truth.json."""
    env.podman("import", str(rootfs(env.base)), IMAGE)
    env.podman("tag", IMAGE, IMAGE_TAG2)
    subnet = env.podman("network", "inspect", env.network,
                        "--format", "{{range .Subnets}}{{.Subnet}}{{end}}").strip()
    # A subnet next to the one private_podman picked (random, so parallel runs don't clash).
    octets = subnet.split("/")[0].split(".")
    rec_subnet = f"10.{octets[1]}.{(int(octets[2]) + 1) % 256}.0/24"
    env.podman("network", "create", "--subnet", rec_subnet, NETWORK)
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
        return {"method": "GET", "path": path, "query": [list(q) for q in query],
                "status": resp.status, "headers": headers, "body": json.loads(raw)}
    finally:
        conn.close()


def record_rest(env: PodmanEnv, out: Path, host: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Record the REST replies into out/rest; return them by file name."""
    ids = {n: env.podman("inspect", n, "--format", "{{.Id}}").strip() for n in NAMES.values()}
    states = {n: env.podman("inspect", n, "--format", "{{.State.Status}}").strip()
              for n in NAMES.values()}
    live = [ids[n] for n in NAMES.values() if states[n] in ("running", "paused")]
    requests: list[tuple[str, str, list[tuple[str, str]]]] = [
        ("containers", f"{API}/containers/json", [("all", "true")]),
        ("containers-size", f"{API}/containers/json", [("all", "true"), ("size", "true")]),
        ("stats", f"{API}/containers/stats",
         [("stream", "false"), *(("containers", i) for i in live)]),
        ("stats-all", f"{API}/containers/stats", [("stream", "false")]),
        ("images", f"{API}/images/json", []),
        ("info", f"{API}/info", []),
        ("version", f"{API}/version", []),
        ("pods", f"{API}/pods/json", []),
        ("volumes", f"{API}/volumes/json", []),
    ]
    replies = {}
    for name, path, query in requests:
        if name == "info":
            host["info_request"] = {"wall_before": time.time(), "uptime_before": uptime()}
        replies[name] = rest_get(env, path, query)
        if name == "info":
            host["info_request"].update(wall_after=time.time(), uptime_after=uptime())
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


def record_varlink(env: PodmanEnv, out: Path) -> None:
    """Record the bridge's replies into out/varlink.

    The connection comes from the varlink package's Client; messages are written and read
    as they go over the wire, because the package's call handler rewrites replies through
    the interface (drops unknown fields, fills absent ones, rounds floats to ints).
    """
    import varlink

    calls: list[tuple[str, str, dict[str, Any]]] = [
        (m, m, {}) for m in ("GetVersion", "GetInfo", "ListContainers", "ListImages")]
    calls += [(f"GetContainerStats-{n}", "GetContainerStats", {"name": n})
              for n in NAMES.values()]
    with bridge(env) as address:
        client = varlink.Client(address=address)
        sock = client.open_connection()
        sock.settimeout(60)
        try:
            for file_name, method, params in calls:
                full = f"{INTERFACE}.{method}"
                message = varlink_call(sock, full, params)
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


def uptime() -> float:
    """Return the first field of /proc/uptime (seconds)."""
    return float(Path("/proc/uptime").read_text().split()[0])


def net_dev(pid: int, iface: str = "eth0") -> dict[str, int] | None:
    """Return rx/tx bytes and packets of ``iface`` in the net namespace of ``pid``."""
    for line in Path(f"/proc/{pid}/net/dev").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name.strip() == iface:
            f = [int(x) for x in rest.split()]
            return {"rx_bytes": f[0], "rx_packets": f[1], "tx_bytes": f[8], "tx_packets": f[9]}
    return None


def cgroup_dirs(pid: int) -> dict[str, Path]:
    """Return controller -> cgroup v1 directory of ``pid`` (from /proc/PID/cgroup)."""
    dirs = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            if controller:
                dirs[controller] = Path("/sys/fs/cgroup", controller, path.lstrip("/"))
    return dirs


def read_int(path: Path) -> int | None:
    """Return the integer in a cgroup file, None if it cannot be read."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def memory_stat(path: Path) -> dict[str, int]:
    """Return the memory.stat entries Podman's v1 figures are made of."""
    keep = ("cache", "rss", "total_cache", "total_rss", "total_inactive_file",
            "total_active_file")
    try:
        pairs = (line.split() for line in path.read_text().splitlines())
        return {k: int(v) for k, v in pairs if k in keep}
    except OSError:
        return {}


def net_before(env: PodmanEnv) -> dict[str, dict[str, int] | None]:
    """Return eth0 counters of every container that has a pid, by name."""
    pids = {n: int(env.podman("inspect", n, "--format", "{{.State.Pid}}").strip() or 0)
            for n in NAMES.values()}
    return {n: net_dev(pid) for n, pid in pids.items() if pid}


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
        truth["eth0"] = net_dev(pid)
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


def meminfo_total() -> int:
    """Return MemTotal from /proc/meminfo in bytes."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


HOW = {
    "containers[].id/name/state/exit_code/pid/pod/health":
        "podman inspect <name>: Id, Name, State.Status, State.ExitCode, State.Pid, Pod, "
        "State.Health.Status",
    "containers[].size": "podman ps -a --size --format json: Size (rootFsSize, rwSize) "
                         "of the entry with that Id, as podman reports it",
    "containers[].eth0":
        "/proc/<pid>/net/dev, line eth0 (the container's net namespace seen from the host; "
        "pod members share the infra container's namespace): fields 1,2 (rx) and 9,10 (tx)",
    "containers[].eth0_before_replies": "the same, read just before the first REST request "
                                        "(shows how still the counters were)",
    "containers[].cgroup": "cgroup v1 directories from /proc/<pid>/cgroup under "
                           "/sys/fs/cgroup/<controller>/: cpuacct.usage (ns), "
                           "memory.usage_in_bytes, memory.limit_in_bytes, memory.stat "
                           "(selected keys), pids.current",
    "images": "podman images --format json: Id, Names, Size, VirtualSize (the CLI lists "
              "an image once per tag)",
    "host.info_request": "time.time() and /proc/uptime (first field) read just before and "
                         "just after the GET of info.json",
    "host.mem_total_bytes": "MemTotal of /proc/meminfo x 1024",
    "host.nproc": "output of nproc; host.cpu_count: os.cpu_count()",
    "traffic": "one busybox wget in rec-client from busybox httpd in rec-server, checked "
               "with wc -c; the containers are idle afterwards",
    "order": "zoo, traffic, 2 s idle, the REST replies, then at once this truth "
             "(containers' counters first), then the varlink replies",
}


def record_truth(env: PodmanEnv, out: Path, host: dict[str, Any], facts: dict[str, Any],
                 before: dict[str, dict[str, int] | None]) -> dict[str, Any]:
    """Write out/truth.json; return it."""
    sizes = {c["Id"]: c.get("Size") for c in
             json.loads(env.podman("ps", "-a", "--size", "--format", "json"))}
    containers = [container_truth(env, n, sizes, before) for n in NAMES.values()]
    images = [{"id": i.get("Id"), "names": i.get("Names"), "size": i.get("Size"),
               "virtual_size": i.get("VirtualSize")}
              for i in json.loads(env.podman("images", "--format", "json"))]
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout
    truth = {
        "how": HOW,
        "podman_version": env.podman("version", "--format", "{{.Client.Version}}").strip(),
        "zoo": {"names": NAMES, "pod": POD, "volume": VOLUME,
                "images": [IMAGE, IMAGE_TAG2, "localhost/busybox:e2e (from private_podman)"],
                "blob_size": BLOB_SIZE},
        "traffic": facts,
        "containers": containers,
        "images": images,
        "host": {**host, "mem_total_bytes": meminfo_total(), "nproc": int(nproc),
                 "cpu_count": os.cpu_count()},
    }
    write(out / "truth.json", truth)
    return truth


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
    """Return lines comparing stats.json's network bytes with truth's eth0 counters."""
    by_id = {c["id"]: c for c in truth["containers"]}
    lines = []
    for stat in replies["stats"]["body"].get("Stats") or []:
        c = by_id.get(stat.get("ContainerID"), {})
        eth = c.get("eth0") or {}
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
            host: dict[str, Any] = {}
            recorded = time.monotonic()
            before = net_before(env)
            replies = record_rest(env, out, host)
            truth = record_truth(env, out, host, facts, before)
            record_varlink(env, out)
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
