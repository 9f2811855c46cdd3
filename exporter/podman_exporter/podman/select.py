"""Choosing the backend: which socket, and whether it speaks varlink or REST."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Sequence

from podman_exporter.config import DEFAULT_REST_URLS, DEFAULT_VARLINK_URLS, Config
from podman_exporter.podman.backend import PodmanBackend, PodmanError, PodmanUnavailable
from podman_exporter.podman.rest import RestBackend
from podman_exporter.podman.ssh_tunnel import SshTarget, SshTunnel
from podman_exporter.podman.varlink_client import VarlinkBackend

log = logging.getLogger(__name__)

_VARLINK_PROBE = b'{"method":"org.varlink.service.GetInfo"}\0\r\n\r\n'
"""A varlink call that an HTTP server answers at once too: the CR LF ends what it reads
as a malformed request line, so it replies 400 instead of waiting for more bytes."""


def socket_path(url: str) -> str | None:
    """Return the filesystem path of a ``unix:`` URL (``unix:/p`` or ``unix:///p``), else None."""
    if not url.startswith("unix:"):
        return None
    path = url[5:].split(";", 1)[0]
    return "/" + path.lstrip("/") if path.startswith("//") else path


def default_urls() -> tuple[str, ...]:
    """Return the sockets searched when no --podman.url is given, varlink first."""
    urls = DEFAULT_VARLINK_URLS + DEFAULT_REST_URLS
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return urls + ((f"unix://{runtime}/podman/podman.sock",) if runtime else ())


def first_reply_byte(path: str, timeout: float) -> bytes:
    """Return the first byte the unix socket at ``path`` answers to the probe: ``{`` from
    a varlink service, ``H`` (an HTTP 400) from a REST one; empty when it answers nothing
    within ``timeout`` or cannot be reached."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            sock.sendall(_VARLINK_PROBE)
            return sock.recv(1)
        except OSError:
            return b""


def speaks_varlink(path: str, timeout: float) -> bool:
    """Return whether the unix socket at ``path`` answers a varlink call."""
    return first_reply_byte(path, timeout) == b"{"


class BackendSelector:
    """Returns the backend, resolving ``--podman.api=auto`` on first contact with Podman."""

    def __init__(self, config: Config, url: str | None = None) -> None:
        self._config = config
        self._url = url
        self._backend: PodmanBackend | None = None
        self._lock = threading.Lock()
        self._tunnel: SshTunnel | None = None
        if url is not None and url.startswith("ssh://"):
            self._tunnel = SshTunnel(SshTarget.parse(url, config.podman_ssh_identity,
                                                     config.podman_ssh_known_hosts),
                                     config.podman_timeout)

    def __call__(self) -> PodmanBackend:
        """Return the backend; raise PodmanUnavailable while no Podman socket answers, or
        PodmanError if the address cannot be used (never another exception)."""
        with self._lock:
            if self._tunnel is not None:
                local = self._tunnel.ensure()  # started again if ssh ended
                if self._backend is None:
                    self._backend = RestBackend(local, self._config.podman_timeout,
                                                self._config.podman_connections)
                    log.info("watching Podman via rest at %s (over ssh)", self._url)
                return self._backend
            if self._backend is None:
                try:
                    self._backend = self._resolve()
                except PodmanError:
                    raise
                except Exception as exc:  # e.g. an address the client refuses
                    raise PodmanError(f"cannot use Podman at "
                                      f"{self._url or 'the default sockets'}: {exc}") from exc
                log.info("watching Podman via %s at %s", self._backend.api,
                         self._url or "the default sockets")
            return self._backend

    @property
    def url(self) -> str:
        """Return the Podman address in use (once found), else the one configured, or
        that the default sockets are searched."""
        return self._url or "the default sockets"

    def _candidates(self) -> Sequence[str]:
        return (self._url,) if self._url else default_urls()

    def _resolve(self) -> PodmanBackend:
        cfg = self._config
        if cfg.podman_bridge:
            return self._varlink(None)
        tried = []
        for url in self._candidates():
            path = socket_path(url)
            if path is not None and not os.path.exists(path):
                tried.append(url)
                continue
            api = cfg.podman_api
            if api == "auto":
                api = "varlink" if path is None or speaks_varlink(path, cfg.podman_timeout) \
                    else "rest"
            if api == "varlink":
                return self._varlink("unix:" + path if path is not None else url)
            self._url = url
            return RestBackend(url, cfg.podman_timeout, cfg.podman_connections)
        raise PodmanUnavailable("no Podman socket found (tried " + ", ".join(tried) + ")")

    def _varlink(self, address: str | None) -> PodmanBackend:
        cfg = self._config
        self._url = address
        return VarlinkBackend(address, bridge=cfg.podman_bridge, timeout=cfg.podman_timeout,
                              connections=cfg.podman_connections,
                              stats_budget=max(cfg.podman_timeout, cfg.collect_interval / 2))

    @property
    def remote(self) -> bool:
        """Return whether Podman runs on another host (ssh://, tcp:): its containers'
        cgroups and processes are not this host's."""
        return self._tunnel is not None or bool(self._url and self._url.startswith("tcp:"))

    def close(self) -> None:
        """Close the backend's connections (and the ssh tunnel)."""
        with self._lock:
            if self._backend is not None:
                self._backend.close()
            if self._tunnel is not None:
                self._tunnel.close()
