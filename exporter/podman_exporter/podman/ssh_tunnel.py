"""Remote Podman over ssh: the system's OpenSSH client forwards a local unix socket to the
remote Podman socket, and the REST client talks to the local one.

``ssh://user@host[:port]/run/podman/podman.sock`` is the form ``podman --remote`` and
``podman system connection`` use. Authentication is by key only (``BatchMode``), the
host key is checked against a known-hosts file (``StrictHostKeyChecking=yes``), and
no user or system ssh configuration is read. The key and the known-hosts file come
from the URL's query (``?identity=/path&known_hosts=/path``) or the exporter's
``--podman.ssh-identity`` / ``--podman.ssh-known-hosts`` flags: the OpenSSH client
would look for them in the home directory of the user database, not ``$HOME``.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from podman_exporter.podman.backend import PodmanUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SshTarget:
    """Where an ``ssh://`` URL points, and the files that authenticate both ends."""

    user: str
    host: str
    port: int
    socket: str
    identity: str
    known_hosts: str

    @classmethod
    def parse(cls, url: str, identity: str = "", known_hosts: str = "") -> SshTarget:
        """Return the target of ``url``; its query overrides ``identity`` and
        ``known_hosts``. Raise ValueError when the URL lacks a path, or no key or
        known-hosts file is given."""
        parts = urlsplit(url)
        if parts.scheme != "ssh" or not parts.hostname:
            raise ValueError(f"not an ssh://user@host/path URL: {url}")
        if not parts.path or parts.path == "/":
            raise ValueError(f"no remote socket path in {url}")
        query = parse_qs(parts.query)
        identity = query.get("identity", [identity])[-1]
        known_hosts = query.get("known_hosts", [known_hosts])[-1]
        if not identity:
            raise ValueError(f"{url}: no ssh key (--podman.ssh-identity or ?identity=)")
        if not known_hosts:
            raise ValueError(f"{url}: no known-hosts file (--podman.ssh-known-hosts or "
                             "?known_hosts=)")
        return cls(parts.username or "root", parts.hostname, parts.port or 22,
                   unquote(parts.path), identity, known_hosts)

    def command(self, ssh: str, local: str) -> list[str]:
        """Return the ssh command that forwards ``local`` to the remote socket."""
        options = {
            "BatchMode": "yes",
            "StrictHostKeyChecking": "yes",
            "UserKnownHostsFile": self.known_hosts,
            "GlobalKnownHostsFile": "/dev/null",
            "IdentitiesOnly": "yes",
            "IdentityFile": self.identity,
            "ExitOnForwardFailure": "yes",
            "StreamLocalBindUnlink": "yes",
            "ServerAliveInterval": "10",
            "ServerAliveCountMax": "3",
            "ConnectTimeout": "10",
        }
        return [ssh, "-F", "/dev/null", "-N", "-T", "-p", str(self.port),
                *(f"-o{key}={value}" for key, value in options.items()),
                "-L", f"{local}:{self.socket}", f"{self.user}@{self.host}"]


class SshTunnel:
    """One ``ssh -N -L`` process, started on demand and again after it ends."""

    def __init__(self, target: SshTarget, timeout: float) -> None:
        self._target = target
        self._timeout = timeout
        self._dir = tempfile.mkdtemp(prefix="podman-exporter-ssh-")
        self.local_path = os.path.join(self._dir, "podman.sock")
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def local_url(self) -> str:
        """Return the ``unix://`` URL of the forwarded socket."""
        return f"unix://{self.local_path}"

    def ensure(self) -> str:
        """Return the local socket's URL once ssh forwards it, starting ssh if it is not
        running; raise PodmanUnavailable with ssh's own message when it cannot."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None \
                    and os.path.exists(self.local_path):
                return self.local_url
            self._stop()
            ssh = shutil.which("ssh")
            if ssh is None:
                raise PodmanUnavailable("ssh:// needs the OpenSSH client (ssh) installed")
            self._proc = subprocess.Popen(
                self._target.command(ssh, self.local_path), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + self._timeout
            while time.monotonic() < deadline:
                if os.path.exists(self.local_path):
                    return self.local_url
                if self._proc.poll() is not None:
                    break
                time.sleep(0.05)
            reason = self._reason()
            self._stop()
            raise PodmanUnavailable(f"ssh to {self._target.user}@{self._target.host}:"
                                    f"{self._target.port} failed: {reason}")

    def _reason(self) -> str:
        """Return ssh's last error line, or that it timed out."""
        proc = self._proc
        if proc is None or proc.poll() is None:
            return "no forwarded socket in time"
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        lines = [line for line in err.splitlines() if line.strip()]
        return lines[-1] if lines else f"ssh exited with {proc.returncode}"

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stderr:
                proc.stderr.close()
        if os.path.exists(self.local_path):
            os.unlink(self.local_path)

    def close(self) -> None:
        """Stop ssh and remove the local socket's directory."""
        with self._lock:
            self._stop()
            shutil.rmtree(self._dir, ignore_errors=True)
