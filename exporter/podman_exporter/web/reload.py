"""Reloading credentials and the web config while serving, as exporter-toolkit users expect.

What is re-read: the admin token file, the admin users file and the web config file
(basic auth users, response headers, and the TLS certificate and key). When:

- on ``SIGHUP`` (which no longer kills the process);
- when one of those files, or a certificate or key file the web config names, changes:
  a background thread compares each file's (device, inode, size, mtime, ctime) every
  ``CHECK_INTERVAL`` seconds (a few ``stat`` calls), so a rotated token stops working
  within that time without a signal, and at once with one. With no such file (no
  ``--web.config.file`` or admin credentials) the thread only waits for ``SIGHUP``.

A reload is all or nothing: every file is read and validated as at start (the token's
owner, mode and strength; bcrypt hashes; TLS files loaded into a scratch context), and
only then is anything swapped. A reload that fails keeps the running configuration
and logs one error line; it never exits. Each change of the files is tried once (a
file caught half-written is tried again when its writer finishes).

TLS: the certificate chain and key are swapped in place on the running
``SSLContext`` with ``load_cert_chain`` (new handshakes use them; open connections
keep theirs), on the event loop's thread so no handshake sees half of it. Any other
change of ``tls_server_config`` (versions, ciphers, client auth, ``client_ca_file``),
or turning TLS on or off, needs a restart: such a reload is refused (one error line)
and nothing of it is applied. The content of ``client_ca_file`` is read at start only.

Verified basic-auth credentials stay cached across a reload when the user list did not
change; the admin limiters keep their state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from podman_exporter.config import Config
from podman_exporter.web.admin import AdminApp
from podman_exporter.web.admin_guard import load_admin_users, read_token
from podman_exporter.web.asgi import ASGIApp, Receive, Scope, Send
from podman_exporter.web.auth import CredentialChecker
from podman_exporter.web.tls import TLSServerConfig
from podman_exporter.web.webconfig import WebConfig, load_web_config

log = logging.getLogger(__name__)

CHECK_INTERVAL = 5.0
"""Seconds between two checks of the watched files."""

Stamp = tuple[int, int, int, int, int] | None


@dataclass(frozen=True)
class Credentials:
    """What the files hold: the web config, the admin token and the admin users."""

    web_config: WebConfig | None = None
    token: bytes | None = None
    admin_users: Mapping[str, str] | None = None


def load_credentials(config: Config) -> Credentials:
    """Return the credentials of the files the flags name; raise ValueError (one line)
    for any problem (WebConfigError is a ValueError)."""
    return Credentials(
        web_config=load_web_config(config.web_config_file) if config.web_config_file else None,
        token=read_token(config.admin_token_file) if config.admin_token_file else None,
        admin_users=load_admin_users(config.admin_users_file) if config.admin_users_file
        else None,
    )


def tls_change_problem(old: TLSServerConfig | None, new: TLSServerConfig | None) -> str | None:
    """Return why a reload cannot apply this TLS change, or None (same settings, the
    certificate and key files aside)."""
    if (old is None) != (new is None):
        return "turning TLS on or off needs a restart"
    if old is None or new is None:
        return None
    same = dataclasses.replace(new, cert_file=old.cert_file, key_file=old.key_file)
    if same != old:
        return ("only cert_file and key_file of tls_server_config can change on reload; "
                "other TLS settings need a restart")
    return None


def _stamp(path: str) -> Stamp:
    """Return what changes when a file is replaced or rewritten (None if it is missing)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


@dataclass
class LiveApp:
    """The root ASGI app, replaced as a whole by a reload (one attribute assignment)."""

    app: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


Assemble = Callable[[WebConfig | None, CredentialChecker | None], ASGIApp]
"""Return the root app for a web config and the checker of its basic-auth users."""


class Reloader:
    """Holds the running credentials and applies new ones (see the module)."""

    def __init__(self, config: Config, current: Credentials, live: LiveApp,
                 assemble: Assemble, *, admin: AdminApp | None = None,
                 scrape_users: CredentialChecker | None = None,
                 ssl_context: ssl.SSLContext | None = None,
                 check_interval: float = CHECK_INTERVAL) -> None:
        self.config = config
        self.current = current
        self.live = live
        self._assemble = assemble
        self.admin = admin
        self._scrape_users = scrape_users
        self._ssl_context = ssl_context
        self.check_interval = check_interval
        self.loop: asyncio.AbstractEventLoop | None = None
        """The serving event loop, once known: changes are applied on its thread."""
        self.reloads = 0
        self.failures = 0
        self._lock = threading.Lock()  # one reload at a time
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stamps = self._watched_stamps()

    def _watched(self) -> list[str]:
        """Return the files whose change triggers a reload."""
        paths = [p for p in (self.config.web_config_file, self.config.admin_token_file,
                             self.config.admin_users_file) if p]
        web = self.current.web_config
        if web is not None and web.tls_server_config is not None:
            paths += [web.tls_server_config.cert_file, web.tls_server_config.key_file]
        return paths

    def _watched_stamps(self) -> dict[str, Stamp]:
        return {path: _stamp(path) for path in self._watched()}

    def changed(self) -> bool:
        """Return whether a watched file changed since the last reload attempt."""
        return self._watched_stamps() != self._stamps

    def check(self) -> bool | None:
        """Reload if a watched file changed; return the outcome, None if nothing changed."""
        return self.reload("a file changed") if self.changed() else None

    def reload(self, why: str = "SIGHUP") -> bool:
        """Re-read every file and apply them all, or keep the running configuration and
        log one error line; return whether the new configuration is in force."""
        with self._lock:
            self._stamps = self._watched_stamps()  # each change is tried once
            try:
                new = load_credentials(self.config)
                old_tls = self.current.web_config.tls_server_config \
                    if self.current.web_config else None
                new_tls = new.web_config.tls_server_config if new.web_config else None
                problem = tls_change_problem(old_tls, new_tls)
                if problem is not None:
                    raise ValueError(f"web config {self.config.web_config_file}: {problem}")
                apply = self._prepare(new)
                self._on_loop(apply)
            except (ValueError, OSError, ssl.SSLError) as exc:
                self.failures += 1
                log.error("reload (%s) failed, the running configuration is kept: %s", why,
                          " ".join(str(exc).split()))
                return False
            self.current = new
            self._stamps = self._watched_stamps()  # TLS files may be new ones
            self.reloads += 1
            log.info("reloaded the web config and admin credentials (%s)", why)
            return True

    def _prepare(self, new: Credentials) -> Callable[[], None]:
        """Build what the new credentials need (bcrypt work happens here, off the event
        loop); return the function that swaps it all in."""
        users = new.web_config.basic_auth_users if new.web_config else {}
        old_users = self.current.web_config.basic_auth_users if self.current.web_config else {}
        scrape = self._scrape_users
        if dict(users) != dict(old_users):
            scrape = CredentialChecker(users) if users else None
        admin_users = self.admin.users if self.admin is not None else None
        if dict(new.admin_users or {}) != dict(self.current.admin_users or {}):
            admin_users = CredentialChecker(new.admin_users) if new.admin_users else None
        root = self._assemble(new.web_config, scrape)
        tls = new.web_config.tls_server_config if new.web_config else None

        def apply() -> None:
            if tls is not None and self._ssl_context is not None:
                self._ssl_context.load_cert_chain(tls.cert_file, tls.key_file,
                                                  password=_no_password)
            if self.admin is not None:
                self.admin.token = new.token
                self.admin.users = admin_users
            self._scrape_users = scrape
            self.live.app = root

        return apply

    def _on_loop(self, apply: Callable[[], None]) -> None:
        """Run ``apply`` on the event loop's thread when it runs (else here); re-raise."""
        loop = self.loop
        if loop is None or not loop.is_running():
            apply()
            return
        done = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                apply()
            except BaseException as exc:  # handed back to the reloader
                failure.append(exc)
            finally:
                done.set()

        try:
            loop.call_soon_threadsafe(run)
        except RuntimeError:  # the loop closed meanwhile (shutting down)
            apply()
            return
        if not done.wait(30):
            raise OSError("the event loop did not apply the reload within 30s")
        if failure:
            raise failure[0]

    # The background thread: SIGHUP and file changes.

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Apply later changes on ``loop``'s thread (the serving loop, once it runs)."""
        self.loop = loop

    def request(self) -> None:
        """Ask for a reload (safe from a signal handler: it only sets an event)."""
        self._wake.set()

    def start(self) -> None:
        """Start the thread that reloads on request and when a watched file changes."""
        self._thread = threading.Thread(target=self._run, name="reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            # Nothing to watch (no file flags): sleep until SIGHUP or stop, no polling.
            requested = self._wake.wait(self.check_interval if self._stamps else None)
            if self._stop.is_set():
                return
            try:
                if requested:
                    self._wake.clear()
                    self.reload("SIGHUP")
                else:
                    self.check()
            except Exception:  # a bug here must not end reloading
                log.exception("reload crashed")


def _no_password() -> bytes:
    raise ValueError("the key file is encrypted; a key without a passphrase is required")
