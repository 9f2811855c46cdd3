"""A private real Podman for end-to-end tests: own storage, locks, network and REST socket.

Nothing outside the temporary directory is touched except a bridge network
interface (named after the private network, on a free 10.x subnet) that is removed
again.
See /work/shared/notes/real-podman.md for why runc and the ulimits are needed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from support import free_port
from support import require_tool as require

IMAGE = "localhost/busybox:e2e"
BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "sleep", "true", "false", "yes", "cat", "echo", "ls", "env")

CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
tmp_dir = "{tmp}"
lock_type = "file"
events_logger = "file"
[network]
network_config_dir = "{net}"
"""



def busybox_rootfs(dest: Path, name: str = "rootfs.tar",
                   applets: Sequence[str] = APPLETS, blob: int = 0) -> Path:
    """Return a rootfs tar holding busybox-static, symlinks for ``applets``, /tmp, and
    ``blob`` random bytes at /blob when asked."""
    tar_path = dest / name
    with tarfile.open(tar_path, "w") as tar:
        tar.add(os.path.realpath(BUSYBOX), arcname="bin/busybox")
        for applet in applets:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
        tmp = tarfile.TarInfo("tmp")
        tmp.type, tmp.mode = tarfile.DIRTYPE, 0o1777
        tar.addfile(tmp)
        if blob:
            data = dest / f"{name}.blob"
            data.write_bytes(os.urandom(blob))
            tar.add(data, arcname="blob")
    return tar_path


def import_image(podman: Callable[..., str], dest: Path) -> None:
    """Import the test image ``IMAGE`` with ``podman`` (a CLI runner), its rootfs tar
    written to ``dest``."""
    podman("import", str(busybox_rootfs(dest)), IMAGE)


@dataclass
class PodmanEnv:
    """One private Podman: CLI runner plus a ``podman system service`` on a temporary socket."""

    base: Path
    network: str = ""
    service: subprocess.Popen[bytes] | None = None
    names: dict[str, str] = field(default_factory=dict)
    """Role of each zoo container (``running``, ``busy`` ...) -> its name."""

    @property
    def socket_path(self) -> Path:
        """Return the REST socket path."""
        return self.base / "podman.sock"

    @property
    def url(self) -> str:
        """Return the ``unix:///...`` URL of the REST socket."""
        return f"unix://{self.socket_path}"

    @property
    def env(self) -> dict[str, str]:
        """Return the environment every podman command runs with."""
        return {**os.environ, "CONTAINERS_CONF": str(self.base / "containers.conf")}

    def argv(self, *args: str) -> list[str]:
        """Return the podman command line for ``args`` on the private storage."""
        return ["podman", "--root", str(self.base / "root"), "--runroot",
                str(self.base / "run"), *args]

    def podman(self, *args: str, check: bool = True) -> str:
        """Run podman and return its stdout; raise with stderr when it fails and ``check``."""
        # cwd: conmon writes a container's "oom" marker relative to podman's working
        # directory (Podman 4.3), which must not be the source tree.
        proc = subprocess.run(self.argv(*args), check=False, env=self.env, cwd=self.base,
                              capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args)} failed ({proc.returncode}): "
                               f"{proc.stderr.strip()}")
        return proc.stdout

    def setup(self) -> None:
        """Write the config, import the busybox image and create the private network."""
        (self.base / "containers.conf").write_text(CONTAINERS_CONF.format(
            tmp=self.base / "tmp", net=self.base / "net"))
        import_image(self.podman, self.base)
        self.network = f"pe{os.getpid() % 100000}{random.randint(0, 999):03d}"
        for attempt in range(3):
            # CNI's network create lists the host's routes; it fails when another test
            # run removes an interface meanwhile ("no such network interface").
            try:
                self.podman("network", "create", "--subnet", free_subnet(), self.network)
                break
            except RuntimeError:
                if attempt == 2:
                    raise
                time.sleep(1)
        self.own_bridge()

    def own_bridge(self) -> None:
        """Give the private network a bridge interface name of its own.

        Podman 4.3 names a new CNI bridge ``cni-podmanN`` after the interfaces that
        exist when the network is created, but the interface appears only when the
        first container starts: two private Podmans set up at the same time pick the
        same name, and the second one's containers fail to start ("already has an IP
        address different from ..."). Podman 4.3 has no option for the name, so the
        network's conflist is rewritten before the service first reads it.
        """
        conflist = self.base / "net" / f"{self.network}.conflist"
        config = json.loads(conflist.read_text())
        config["plugins"][0]["bridge"] = self.network
        conflist.write_text(json.dumps(config, indent=3))

    def start_service(self) -> None:
        """Start ``podman system service`` and return once it answers ``/_ping``."""
        self.socket_path.unlink(missing_ok=True)
        self.service = subprocess.Popen(
            self.argv("system", "service", "--time=0", self.url), env=self.env, cwd=self.base,
            stdout=subprocess.DEVNULL, stderr=(self.base / "service.log").open("ab"),
            start_new_session=True)
        wait_for_service(self.service, self.socket_path, self.base / "service.log")

    def stop_service(self) -> None:
        """Stop the REST service (the containers keep running)."""
        stop_service(self.service)
        self.service = None

    def run_parallel(self, commands: list[list[str]]) -> list[str]:
        """Run several podman commands at once; return their outputs in order."""
        with ThreadPoolExecutor(max_workers=max(1, len(commands))) as pool:
            return list(pool.map(lambda c: self.podman(*c), commands))

    def create_zoo(self) -> None:
        """Create the containers of the end-to-end suite, started in parallel where possible."""
        net = ("--network", self.network)
        sleep = (IMAGE, "sleep", "100000")
        n = self.names = {
            "running": "e2e-running", "busy": "e2e-busy", "paused": "e2e-paused",
            "exited": "e2e-exited3", "created": "e2e-created", "health": "e2e-health",
            "labeled": "e2e-labeled", "pod": "e2e-pod", "pod_a": "e2e-pod-a",
            "pod_b": "e2e-pod-b",
        }
        self.labeled_port = free_port()
        self.podman("pod", "create", *net, "--name", n["pod"])
        self.run_parallel([
            ["run", "-d", *net, "--name", n["running"], *sleep],
            ["run", "-d", *net, "--name", n["busy"], IMAGE, "sh", "-c", "while :; do :; done"],
            ["run", "-d", *net, "--name", n["paused"], *sleep],
            ["run", "-d", *net, "--name", n["exited"], IMAGE, "sh", "-c", "exit 3"],
            ["create", *net, "--name", n["created"], *sleep],
            ["run", "-d", *net, "--name", n["health"], "--health-cmd", "true",
             "--health-interval", "1h", *sleep],
            ["run", "-d", *net, "--name", n["labeled"], "--label", "app=shop",
             "--label", "tier=web", "-p", f"127.0.0.1:{self.labeled_port}:80", *sleep],
            ["run", "-d", "--pod", n["pod"], "--name", n["pod_a"], *sleep],
            ["run", "-d", "--pod", n["pod"], "--name", n["pod_b"], *sleep],
            ["volume", "create", "e2e-volume"],
        ])
        self.podman("pause", n["paused"])
        assert self.podman("wait", n["exited"]).strip() == "3"
        # No systemd timer here: run the check once so the health becomes "healthy".
        self.podman("healthcheck", "run", n["health"])

    def teardown(self) -> None:
        """Remove every container, pod, volume, image and the network; stop the service."""
        self.stop_service()
        for args in (("pod", "rm", "-af", "-t", "0"), ("rm", "-af", "-t", "0"),
                     ("volume", "rm", "-af"), ("rmi", "-af")):
            self.podman(*args, check=False)
        if self.network:
            self.podman("network", "rm", "-f", self.network, check=False)
        shutil.rmtree(self.base, ignore_errors=True)


def free_subnet() -> str:
    """Return a 10.x.y.0/24 subnet (x from 200 to 250) that no host route uses now."""
    routes = Path("/proc/net/route").read_text().splitlines()[1:]
    used = {line.split()[1] for line in routes if line.strip()}
    while True:
        second, third = random.randint(200, 250), random.randint(0, 255)
        if f"00{third:02X}{second:02X}0A" not in used:  # 10.second.third.0, little-endian
            return f"10.{second}.{third}.0/24"


def wait_for_service(service: subprocess.Popen[bytes], socket_path: Path, log: Path) -> None:
    """Return once a ``podman system service`` answers ``/_ping`` on ``socket_path``;
    raise with the end of its ``log`` if it exits, or after 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if service.poll() is not None:
            text = log.read_text(errors="replace").strip() if log.exists() else ""
            raise RuntimeError(f"podman system service exited ({service.returncode}): "
                               f"{text[-2000:]}")
        if pings(socket_path):
            return
        time.sleep(0.05)
    raise RuntimeError("podman system service did not answer within 30s")


def stop_service(service: subprocess.Popen[bytes] | None) -> None:
    """Stop a ``podman system service`` (its containers keep running): SIGTERM to its
    process group, SIGKILL after 15 s."""
    if service is not None and service.poll() is None:
        os.killpg(service.pid, signal.SIGTERM)
        try:
            service.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(service.pid, signal.SIGKILL)
            service.wait()


def pings(path: Path) -> bool:
    """Return whether the REST socket at ``path`` answers ``GET /_ping`` with 200."""
    if not path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(str(path))
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
            return b" 200 " in s.recv(64)
    except OSError:
        return False


@contextmanager
def private_podman(prefix: str) -> Iterator[PodmanEnv]:
    """Yield a private Podman with its REST service running, removed afterwards.

    A missing podman, runc or busybox fails the test in CI and skips it elsewhere.
    """
    require("podman")
    require("runc")
    if not os.path.exists("/bin/busybox"):
        require("busybox")
    env = PodmanEnv(Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp")))
    try:
        env.setup()
        env.start_service()
        yield env
    finally:
        env.teardown()
