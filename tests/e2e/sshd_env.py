"""A local OpenSSH server for ``ssh://`` endpoints: Debian's sshd in the foreground on
127.0.0.1 and a free port, with its own configuration, host key and client key.

It lets root in with the client key only and forwards local connections, which is
all ``ssh -L local.sock:remote.sock`` (the exporter's ssh tunnel) needs: OpenSSH
denies unix socket forwards too under ``AllowTcpForwarding no``, so the config says
``local`` for both kinds. Nothing of
/etc/ssh is read; the only thing outside the temporary directory is sshd's
privilege separation directory /run/sshd, made when missing (as systemd does).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from support import free_port, unavailable
from support import require_tool as require

SSHD = "/usr/sbin/sshd"

SSHD_CONFIG = """\
ListenAddress 127.0.0.1
Port {port}
HostKey {base}/host_ed25519
PidFile {base}/sshd.pid
AuthorizedKeysFile {base}/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowStreamLocalForwarding local
AllowTcpForwarding local
AllowAgentForwarding no
X11Forwarding no
PermitTTY no
PrintMotd no
LogLevel VERBOSE
"""


@dataclass
class Sshd:
    """One running sshd and the files a client needs to reach it."""

    base: Path
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def identity(self) -> Path:
        """Return the client's private key (authorized for root)."""
        return self.base / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        """Return a known-hosts file naming ``[127.0.0.1]:PORT`` with the host key."""
        return self.base / "known_hosts"

    @property
    def log(self) -> Path:
        """Return sshd's log (its stderr)."""
        return self.base / "sshd.log"

    def url(self, socket_path: str | Path, user: str = "root") -> str:
        """Return ``ssh://USER@127.0.0.1:PORT<socket_path>?identity=...&known_hosts=...``."""
        query = urlencode({"identity": str(self.identity),
                           "known_hosts": str(self.known_hosts)})
        return f"ssh://{user}@127.0.0.1:{self.port}{quote(str(socket_path))}?{query}"

    def forward_command(self, local: str | Path, remote: str | Path,
                        known_hosts: str | Path | None = None) -> list[str]:
        """Return the system ssh command forwarding the unix socket ``local`` to ``remote``."""
        return ["ssh", "-F", "/dev/null", "-N", "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=yes",
                "-o", f"UserKnownHostsFile={known_hosts or self.known_hosts}",
                "-o", "GlobalKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes",
                "-o", "ExitOnForwardFailure=yes", "-i", str(self.identity),
                "-L", f"{local}:{remote}", "-p", str(self.port), "root@127.0.0.1"]

    def stop(self) -> None:
        """Stop sshd and the connections it still serves."""
        if self.proc.poll() is None:
            for pid in _children(self.proc.pid):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _children(pid: int) -> list[int]:
    """Return the pids of ``pid``'s children (sshd's per-connection processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                # The command name is in parentheses and may hold spaces: split after it.
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry.name))
    return found


def _keygen(path: Path, comment: str) -> str:
    """Make an ed25519 key pair at ``path``; return the public key's ``type base64``."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
                    "-f", str(path)], check=True, capture_output=True, timeout=30)
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


def _answers(port: int) -> bool:
    """Return whether an SSH server greets on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            return sock.recv(64).startswith(b"SSH-2.0-")
    except OSError:
        return False


def _start(base: Path) -> Sshd:
    """Start sshd on a free port (another one when it was taken meanwhile)."""
    for _ in range(5):
        port = free_port()
        config = base / "sshd_config"
        config.write_text(SSHD_CONFIG.format(port=port, base=base))
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=(base / "sshd.log").open("ab"), start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.poll() is None:
            if _answers(port):
                return Sshd(base, port, proc)
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = (base / "sshd.log").read_text(errors="replace").strip()
    raise RuntimeError(f"sshd did not start: {log[-2000:]}")


@contextmanager
def local_sshd() -> Iterator[Sshd]:
    """Yield a running sshd on 127.0.0.1 that lets root in with ``Sshd.identity``;
    stopped and removed afterwards.

    Needs root. A missing sshd or ssh fails the test in CI and skips it elsewhere.
    """
    if os.geteuid() != 0:
        unavailable("a local sshd that lets root in can only run as root")
    if not os.path.exists(SSHD):
        require("sshd")
    require("ssh")
    require("ssh-keygen")
    base = Path(tempfile.mkdtemp(prefix="pe-sshd-", dir="/tmp"))
    sshd: Sshd | None = None
    try:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        host_key = _keygen(base / "host_ed25519", "pe-test-host")
        (base / "authorized_keys").write_text(
            _keygen(base / "id_ed25519", "pe-test-client") + "\n")
        sshd = _start(base)
        (base / "known_hosts").write_text(f"[127.0.0.1]:{sshd.port} {host_key}\n")
        yield sshd
    finally:
        if sshd is not None:
            sshd.stop()
        shutil.rmtree(base, ignore_errors=True)
