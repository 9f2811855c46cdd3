"""Self-tests of the multi-endpoint environments: a rootless Podman service of a
throwaway user (rootless_env.py) and a local sshd forwarding Podman sockets
(sshd_env.py), with the system ssh client and the exporter's own ssh tunnel."""

from __future__ import annotations

import dataclasses
import grp
import http.client
import json
import os
import pwd
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from podman_env import IMAGE, PodmanEnv, pings, private_podman
from rootless_env import RootlessEnv, rootless_podman
from sshd_env import Sshd, local_sshd

from podman_exporter.podman.backend import PodmanUnavailable
from podman_exporter.podman.ssh_tunnel import SshTarget, SshTunnel

pytestmark = pytest.mark.realpodman


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket."""

    def __init__(self, path: Path) -> None:
        super().__init__("d", timeout=30)
        self._path = str(path)

    def connect(self) -> None:
        """Connect to the unix socket instead of a TCP address."""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self._path)


def get(path: Path, url_path: str) -> tuple[int, bytes]:
    """Return the status and body of ``GET url_path`` on the REST socket at ``path``."""
    conn = _UnixHTTPConnection(path)
    try:
        conn.request("GET", url_path)
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def user_pids(uid: int) -> set[int]:
    """Return the pids of the processes whose real uid is ``uid``."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            uids = next(line for line in status.splitlines() if line.startswith("Uid:"))
            if int(uids.split()[1]) == uid:
                pids.add(int(entry.name))
    return pids


def running(pid: int) -> bool:
    """Return whether process ``pid`` exists and is no zombie (PID 1 here reaps orphans
    only every few seconds)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture(scope="module")
def rootless() -> Iterator[RootlessEnv]:
    """Return a rootless Podman service with the test image loaded."""
    with rootless_podman("pe-rl-test-") as env:
        env.load_image()
        yield env


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    """Return a local sshd."""
    with local_sshd() as server:
        yield server


@pytest.fixture(scope="module")
def remote_podman() -> Iterator[PodmanEnv]:
    """Return a private (rootful) Podman service to reach over ssh."""
    with private_podman("pe-ssh-test-") as env:
        yield env


def test_rootless_service_answers_on_the_users_runtime_dir(rootless: RootlessEnv) -> None:
    assert rootless.socket_path == Path(f"/run/user/{rootless.uid}/podman/podman.sock")
    assert rootless.url == f"unix://{rootless.socket_path}"
    assert rootless.socket_path.stat().st_uid == rootless.uid
    assert pwd.getpwuid(rootless.uid).pw_name == rootless.name
    assert pings(rootless.socket_path)


def test_rootless_info_through_the_socket(rootless: RootlessEnv) -> None:
    status, body = get(rootless.socket_path, "/v4.0.0/libpod/info")
    assert status == 200
    info = json.loads(body)
    assert info["host"]["security"]["rootless"] is True
    assert info["store"]["graphDriverName"] == "vfs"
    assert info["store"]["graphRoot"] == str(rootless.base / "storage")
    proc = subprocess.run(["podman", "--url", rootless.url, "info", "--format", "json"],
                          check=True, capture_output=True, text=True, timeout=60)
    assert json.loads(proc.stdout)["host"]["security"]["rootless"] is True


def test_rootless_container_runs_without_network(rootless: RootlessEnv) -> None:
    out = rootless.podman("run", "--rm", "--network", "none", IMAGE, "sh", "-c",
                          "echo hello; cat /proc/self/uid_map")
    hello, root_map, sub_map = out.splitlines()
    assert hello == "hello"
    assert root_map.split() == ["0", str(rootless.uid), "1"]
    assert sub_map.split() == ["1", str(rootless.subid_first), "65536"]
    rootless.podman("run", "-d", "--network", "none", "--name", "rl-sleeper", IMAGE,
                    "sleep", "1000")
    try:
        status, body = get(rootless.socket_path, "/v4.0.0/libpod/containers/json")
        assert status == 200
        [listed] = [c for c in json.loads(body) if "rl-sleeper" in c["Names"]]
        assert listed["State"] == "running"
        # cgroup v1 host: rootless stats are refused (see real-podman.md).
        status, _ = get(rootless.socket_path,
                        "/v4.0.0/libpod/containers/stats?stream=false")
        assert status == 409
    finally:
        rootless.podman("rm", "-f", "-t", "0", "rl-sleeper")


def test_rootless_service_stops_and_starts(rootless: RootlessEnv) -> None:
    rootless.stop_service()
    assert not pings(rootless.socket_path)
    rootless.start_service()
    assert pings(rootless.socket_path)


def test_rootless_env_is_removed_even_after_a_failure() -> None:
    with pytest.raises(RuntimeError, match="body failed"), \
            rootless_podman("pe-rl-gone-") as env:
        env.load_image()
        env.podman("run", "-d", "--network", "none", IMAGE, "sleep", "1000")
        seen, pids = env, user_pids(env.uid)
        assert len(pids) >= 3  # service, pause process, conmon, container
        raise RuntimeError("body failed")
    with pytest.raises(KeyError):
        pwd.getpwnam(seen.name)
    with pytest.raises(KeyError):
        grp.getgrnam(seen.name)
    for file in ("/etc/subuid", "/etc/subgid"):
        assert f"{seen.name}:" not in Path(file).read_text()
    assert not seen.run_dir.exists()
    assert not seen.base.exists()
    assert not [pid for pid in pids if running(pid)]


def wait_for_socket(path: Path, proc: subprocess.Popen[bytes]) -> None:
    """Return once ``path`` exists; fail with ssh's stderr when ssh exits first."""
    deadline = time.monotonic() + 15
    while not path.exists():
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            pytest.fail(f"ssh exited ({proc.returncode}): {err}")
        assert time.monotonic() < deadline, "ssh forwarded no socket in 15 s"
        time.sleep(0.05)


def test_system_ssh_forwards_a_podman_socket(sshd: Sshd, remote_podman: PodmanEnv,
                                             tmp_path: Path) -> None:
    local = tmp_path / "forwarded.sock"
    proc = subprocess.Popen(sshd.forward_command(local, remote_podman.socket_path),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        wait_for_socket(local, proc)
        assert pings(local)
        status, body = get(local, "/v4.0.0/libpod/info")
        assert status == 200
        assert json.loads(body)["host"]["security"]["rootless"] is False
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()


def test_the_url_names_port_socket_and_files(sshd: Sshd, remote_podman: PodmanEnv) -> None:
    url = sshd.url(remote_podman.socket_path)
    assert url.startswith(f"ssh://root@127.0.0.1:{sshd.port}{remote_podman.socket_path}?")
    target = SshTarget.parse(url)
    assert (target.user, target.host, target.port, target.socket) == (
        "root", "127.0.0.1", sshd.port, str(remote_podman.socket_path))
    assert (target.identity, target.known_hosts) == (str(sshd.identity),
                                                     str(sshd.known_hosts))
    assert oct(os.stat(sshd.identity).st_mode & 0o777) == "0o600"


def test_exporter_ssh_tunnel_reaches_podman(sshd: Sshd, remote_podman: PodmanEnv) -> None:
    tunnel = SshTunnel(SshTarget.parse(sshd.url(remote_podman.socket_path)), timeout=10)
    try:
        url = tunnel.ensure()
        assert url.startswith("unix://")
        assert pings(Path(url.removeprefix("unix://")))
    finally:
        tunnel.close()


def test_exporter_ssh_tunnel_reaches_a_rootless_service(sshd: Sshd,
                                                        rootless: RootlessEnv) -> None:
    tunnel = SshTunnel(SshTarget.parse(sshd.url(rootless.socket_path)), timeout=10)
    try:
        local = Path(tunnel.ensure().removeprefix("unix://"))
        status, body = get(local, "/v4.0.0/libpod/info")
        assert status == 200
        assert json.loads(body)["host"]["security"]["rootless"] is True
    finally:
        tunnel.close()


def test_exporter_ssh_tunnel_refuses_a_wrong_host_key(sshd: Sshd, remote_podman: PodmanEnv,
                                                      tmp_path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(tmp_path / "other")], check=True, capture_output=True)
    other_key = " ".join((tmp_path / "other.pub").read_text().split()[:2])
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {other_key}\n")
    target = dataclasses.replace(SshTarget.parse(sshd.url(remote_podman.socket_path)),
                                 known_hosts=str(known_hosts))
    tunnel = SshTunnel(target, timeout=10)
    try:
        with pytest.raises(PodmanUnavailable, match="Host key verification failed"):
            tunnel.ensure()
    finally:
        tunnel.close()
