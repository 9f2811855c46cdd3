"""The container image, built and run with real Podman as docs/install.md says.

The image is built from the Dockerfile on its default base when that can be
pulled, and otherwise (no registry reachable, as on the project's machines) on a
Debian 12 base made locally with mmdebstrap (debian_base.py), through the
Dockerfile's ``BASE`` build argument. Build and runs use this machine's own
("outer") Podman, whose image store keeps the base between runs; the exporter
containers watch a private Podman (podman_env.py) whose socket they get by a bind
mount. The ``podman run`` command lines are read from docs/install.md, with only
the socket path, host port, container name and image tag swapped in.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import debian_base
import pytest
from podman_env import IMAGE as BUSYBOX
from podman_env import PodmanEnv, private_podman

import podman_exporter
from support import free_port, require_tool

# The timeout is a hang guard: a cold cache makes the base first (about a minute).
pytestmark = [pytest.mark.realpodman, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
INSTALL_MD = ROOT / "docs" / "install.md"
DOCUMENTED_IMAGE = f"localhost/podman-exporter:{podman_exporter.__version__}"
DOCUMENTED_SOCKET = "/run/podman/podman.sock"
DOCUMENTED_VARLINK = "/run/podman/io.projectatomic.podman"
SOCKET_GID = "$(stat -c %g /run/podman/podman.sock)"
PODMAN_UP = re.compile(r"^podman_up(\{[^}]*\})? 1(\.0)?$", re.MULTILINE)
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# A group that owns the private socket, as the systemd drop-in's SocketGroup= would.
SOCKET_GROUP = 10101
# Podman's defaults ask for resource limits this machine refuses, and its crun
# does not run on cgroup v1 hybrid hosts: see /work/shared/notes/real-podman.md.
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
"""


def default_base() -> str:
    """Return the Dockerfile's default ``BASE``."""
    match = re.search(r"^ARG BASE=(\S+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert match, "the Dockerfile declares no ARG BASE=<default>"
    return match[1]


@dataclass(frozen=True)
class Outer:
    """This machine's Podman, with a containers.conf that lets containers start here."""

    podman: str
    env: dict[str, str]

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        """Return the stdout of a podman command; fail with its output when ``check``."""
        done = subprocess.run([self.podman, *args], env=self.env, capture_output=True,
                              text=True, check=False, timeout=timeout)
        if check:
            assert done.returncode == 0, (
                f"podman {shlex.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done.stdout


@dataclass(frozen=True)
class Built:
    """The image under test and the base it was built on."""

    tag: str
    base: str
    seconds: float


@pytest.fixture(scope="module")
def outer(tmp_path_factory: pytest.TempPathFactory) -> Outer:
    conf = tmp_path_factory.mktemp("outer") / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    return Outer(require_tool("podman"), {**os.environ, "CONTAINERS_CONF": str(conf)})


def _base(outer: Outer) -> str:
    """Return the default base if it can be pulled, else the local Debian 12 base."""
    base = default_base()
    try:
        pulled = subprocess.run([outer.podman, "pull", "--quiet", base], env=outer.env,
                                capture_output=True, check=False, timeout=300)
        if pulled.returncode == 0:
            return base
    except subprocess.TimeoutExpired:
        pass
    require_tool("mmdebstrap")
    return debian_base.image(outer.podman, outer.env)


@pytest.fixture(scope="module")
def built(outer: Outer) -> Iterator[Built]:
    start = time.monotonic()
    base = _base(outer)
    tag = f"localhost/podman-exporter:test-{os.getpid()}"
    # The build reaches PyPI: it gets this machine's CA bundle, which also holds
    # the CA of a TLS-intercepting proxy where there is one (Debian's pip reads it).
    ca = ["--volume", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"] if CA_BUNDLE.exists() else []
    # --layers=false: no intermediate images stay behind in the shared image store.
    outer.run("build", "--format", "docker", "--layers=false", "--build-arg", f"BASE={base}",
              *ca, "--tag", tag, str(ROOT), timeout=900)
    try:
        yield Built(tag, base, time.monotonic() - start)
    finally:
        outer.run("rmi", "--force", tag, check=False)


@pytest.fixture(scope="module")
def watched() -> Iterator[PodmanEnv]:
    """Return a private Podman with two containers, its socket owned by SOCKET_GROUP."""
    with private_podman("pe-image-") as env:
        env.podman("run", "-d", "--network", "none", "--name", "image-running",
                   BUSYBOX, "sleep", "100000")
        env.podman("run", "--network", "none", "--name", "image-exited", BUSYBOX, "true")
        os.chown(env.socket_path, -1, SOCKET_GROUP)
        env.socket_path.chmod(0o660)
        yield env


def documented_runs() -> list[list[str]]:
    """Return every ``podman run`` command line of docs/install.md, ``sudo`` dropped."""
    runs = []
    for block in re.findall(r"^```sh\n(.*?)^```", INSTALL_MD.read_text(), re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            argv = shlex.split(line, comments=True)
            argv = argv[1:] if argv[:1] == ["sudo"] else argv
            if argv[:2] == ["podman", "run"]:
                runs.append(argv)
    return runs


def documented_run(wanted: Callable[[list[str]], bool]) -> list[str]:
    """Return the one documented ``podman run`` for which ``wanted`` holds."""
    found = [argv for argv in documented_runs() if wanted(argv)]
    assert len(found) == 1, f"expected one such `podman run` in {INSTALL_MD}: {found}"
    return found[0]


@dataclass
class Running:
    """One exporter container started from a documented command line."""

    outer: Outer
    name: str
    url: str

    def metrics(self, within: float = 60) -> str:
        """Return the first /metrics body with ``podman_up 1``; fail after ``within`` s."""
        deadline = time.monotonic() + within
        body = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as reply:
                    body = str(reply.read().decode())
                if PODMAN_UP.search(body):
                    return body
            except OSError:  # not listening yet
                pass
            state = self.outer.run("inspect", "--format", "{{.State.Status}}", self.name)
            assert state.strip() == "running", self.outer.run("logs", self.name)
            time.sleep(0.5)
        pytest.fail(f"no `podman_up 1` within {within}s:\n{body[-2000:]}\n"
                    f"{self.outer.run('logs', self.name, check=False)[-2000:]}")

    def inspect(self, template: str) -> str:
        """Return ``podman inspect --format template`` of the container."""
        return self.outer.run("inspect", "--format", template, self.name).strip()


@pytest.fixture
def start(outer: Outer, built: Built) -> Iterator[Callable[[list[str], Path | None], Running]]:
    """Return a starter of documented command lines; the containers are removed afterwards."""
    names: list[str] = []

    def run(argv: list[str], socket: Path | None) -> Running:
        port = free_port()
        name = f"podman-exporter-test-{os.getpid()}-{len(names)}"
        swap = {DOCUMENTED_IMAGE: built.tag, "9882:9882": f"127.0.0.1:{port}:9882",
                "podman-exporter": name}
        if socket is not None:
            swap[f"{DOCUMENTED_SOCKET}:{DOCUMENTED_SOCKET}"] = f"{socket}:{DOCUMENTED_SOCKET}"
            swap[f"{DOCUMENTED_VARLINK}:{DOCUMENTED_VARLINK}"] = f"{socket}:{DOCUMENTED_VARLINK}"
            swap[SOCKET_GID] = str(socket.stat().st_gid)
        adapted = [swap.get(arg, arg) for arg in argv]
        assert built.tag in adapted, f"the documented image is {DOCUMENTED_IMAGE}: {argv}"
        names.append(name)
        if "--name" not in adapted:
            adapted[2:2] = ["--name", name]
        if "-d" not in adapted:  # a foreground run in the docs: the test goes on meanwhile
            adapted[2:2] = ["-d"]
        outer.run(*adapted[1:])
        return Running(outer, name, f"http://127.0.0.1:{port}")

    yield run
    for name in names:
        outer.run("rm", "--force", "--time", "0", name, check=False)


def _processes(running: Running) -> set[tuple[str, ...]]:
    """Return (host uids, user, effective capabilities) of the container's processes.

    The user and capabilities come from ``podman top``, the real, effective, saved
    and file system uids on the host from /proc of the container's main process.
    """
    pid = running.inspect("{{.State.Pid}}")
    status = Path(f"/proc/{pid}/status").read_text()
    uids = " ".join(re.findall(r"^Uid:\s+(.*)$", status, re.M)[0].split())
    out = running.outer.run("top", running.name, "user", "capeff")
    return {(uids, *line.split()) for line in out.splitlines()[1:]}


def test_image_labels_venv_and_size(outer: Outer, built: Built,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    info = json.loads(outer.run("image", "inspect", built.tag))[0]
    config = info["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["podman-exporter"]
    assert info["Healthcheck"]["Test"][0] == "CMD", "built without --format docker?"
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == podman_exporter.__version__
    assert labels["org.opencontainers.image.base.name"] == built.base
    # The wheels stayed in the build stage; the venv has the exporter and no pip.
    listing = outer.run("run", "--rm", "--entrypoint", "python", built.tag, "-c",
                        "import os, importlib.util as u; print(os.path.exists('/wheels'), "
                        "u.find_spec('pip') is None, u.find_spec('podman_exporter').origin)")
    assert listing.split() == [
        "False", "True",
        "/opt/podman-exporter/lib/python3.11/site-packages/podman_exporter/__init__.py"]
    size = int(info["Size"])
    with capsys.disabled():
        print(f"\nimage {built.tag} on {built.base}: {size / 1e6:.0f} MB, "
              f"base and build took {built.seconds:.0f} s")
    assert size < 300e6, f"{size / 1e6:.0f} MB: something large stayed in the image"


def test_image_serves_the_demo_without_a_socket(start: Callable[..., Running]) -> None:
    running = start(documented_run(lambda a: "--demo" in a), None)
    assert "podman_container_info{" in running.metrics()


def test_image_watches_podman_as_uid_10001_through_the_socket_group(
    start: Callable[..., Running], watched: PodmanEnv
) -> None:
    argv = documented_run(lambda a: "--group-add" in a)
    assert SOCKET_GID in argv
    running = start(argv, watched.socket_path)
    body = running.metrics()
    names = set(re.findall(r'^podman_container_info\{[^}]*\bname="([^"]+)"', body, re.M))
    # The private Podman's containers, and not the exporter's own (in the outer Podman).
    assert names == {"image-running", "image-exited"}
    assert _processes(running) == {("10001 10001 10001 10001", "podman-exporter", "none")}
    assert running.inspect("{{.HostConfig.ReadonlyRootfs}}") == "true"
    read_only = running.outer.run("exec", running.name, "python", "-c",
                                  "import os; print(os.statvfs('/').f_flag & os.ST_RDONLY)")
    assert read_only.strip() == "1"
    running.outer.run("healthcheck", "run", running.name)
    assert running.inspect("{{.State.Health.Status}}") == "healthy"


def test_image_watches_podman_as_uid_0_without_capabilities(
    start: Callable[..., Running], watched: PodmanEnv
) -> None:
    argv = documented_run(lambda a: "--user" in a and
                          f"{DOCUMENTED_SOCKET}:{DOCUMENTED_SOCKET}" in a)
    running = start(argv, watched.socket_path)
    assert 'name="image-running"' in running.metrics()
    assert _processes(running) == {("0 0 0 0", "root", "none")}
    running.outer.run("healthcheck", "run", running.name)


@pytest.fixture
def varlink_socket(watched: PodmanEnv, tmp_path: Path) -> Iterator[Path]:
    """Return the socket of a varlink bridge serving the private Podman."""
    from podman_exporter.podman.bridge import make_server

    path = tmp_path / "io.projectatomic.podman"
    server = make_server(f"unix:{path}", watched.url, timeout=10.0, connections=2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield path
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_image_watches_varlink_through_the_socket(
    start: Callable[..., Running], varlink_socket: Path
) -> None:
    argv = documented_run(lambda a: f"{DOCUMENTED_VARLINK}:{DOCUMENTED_VARLINK}" in a)
    assert argv[argv.index("--podman.api") + 1] == "varlink"
    running = start(argv, varlink_socket)
    assert 'name="image-running"' in running.metrics()
