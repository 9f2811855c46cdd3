"""Reloading the admin token, the admin users and the web config.

The app under test is wired by ``runner.build_live_app``, as the exporter serves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
import trustme

from podman_exporter.collect.loop import CollectionLoop
from podman_exporter.config import Config
from podman_exporter.exposition.render import ExpositionCache
from podman_exporter.metrics.options import MetricOptions
from podman_exporter.podman.select import BackendSelector
from podman_exporter.runner import build_live_app
from podman_exporter.snapshot.snapshot import Snapshot
from podman_exporter.web.admin import AdminTarget
from podman_exporter.web.reload import LiveApp, Reloader, load_credentials
from podman_exporter.web.tls import build_ssl_context

OLD, NEW = "old-admin-token-0123456789", "new-admin-token-9876543210"
ADMIN_PORT, METRICS_PORT = 9883, 9882
HASH = bcrypt.hashpw(b"scrape-pass", bcrypt.gensalt(rounds=4)).decode()
HASH2 = bcrypt.hashpw(b"other-pass", bcrypt.gensalt(rounds=4)).decode()


def write(path: Path, text: str, mode: int = 0o600) -> None:
    """Replace ``path`` as an operator would (write a new file, rename it over)."""
    new = path.with_name(path.name + ".new")
    new.write_text(text)
    new.chmod(mode)
    os.replace(new, path)


def basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": httpx.BasicAuth(user, password)._auth_header}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def call(app: LiveApp, path: str, headers: dict[str, str], port: int) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1234))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://t:{port}") as http:
            return await http.get(path, headers=headers)

    return asyncio.run(go())


def admin(app: LiveApp, token: str) -> int:
    return call(app, "/admin/", bearer(token), ADMIN_PORT).status_code


def metrics(app: LiveApp, headers: dict[str, str] | None = None) -> httpx.Response:
    return call(app, "/metrics", headers or {}, METRICS_PORT)


class Setup:
    """Files on disk and the app and reloader built from them."""

    def __init__(self, tmp_path: Path, web: str | None = None) -> None:
        self.token = tmp_path / "token"
        write(self.token, OLD)
        self.web = tmp_path / "web.yml"
        if web is not None:
            write(self.web, web)
        self.config = Config(admin_token_file=str(self.token),
                             web_config_file=str(self.web) if web is not None else None,
                             listen_addresses=(("", METRICS_PORT),),
                             admin_listen_addresses=(("127.0.0.1", ADMIN_PORT),))
        current = load_credentials(self.config)
        tls = current.web_config.tls_server_config if current.web_config else None
        self.ssl_context = build_ssl_context(tls) if tls is not None else None
        cache = ExpositionCache(MetricOptions())
        cache.publish(Snapshot(taken_at=1.0, up=True))
        backend = BackendSelector(self.config)
        loop = CollectionLoop(backend=backend, collectors=(), interval=3600, max_age=7200,
                              publish=cache.publish)
        targets = {"root": AdminTarget(backend, loop.count_admin_action, loop.trigger)}
        self.app, self.reloader = build_live_app(self.config, current, cache=cache,
                                                 targets=lambda: targets,
                                                 ssl_context=self.ssl_context)


def users_yml(users: dict[str, str], headers: str = "") -> str:
    lines = "".join(f"  {u}: {h}\n" for u, h in users.items())
    return f"{headers}basic_auth_users:\n{lines}"


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_rotated_token_replaces_the_old_one(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    assert admin(s.app, OLD) == 200 and admin(s.app, NEW) == 401
    write(s.token, NEW + "\n")
    assert admin(s.app, OLD) == 200  # nothing happens by itself before a reload
    assert s.reloader.reload() is True
    assert admin(s.app, OLD) == 401 and admin(s.app, NEW) == 200


@pytest.mark.parametrize(("content", "mode", "why"), [
    (NEW, 0o644, "accessible by group or others"),
    ("a" * 30, 0o600, "different characters"),
    ("123456789012345678", 0o600, "bits of apparent entropy"),
    ("short", 0o600, "at least 16"),
])
def test_a_bad_token_on_reload_keeps_the_old_one_and_logs_one_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str, mode: int,
        why: str) -> None:
    s = Setup(tmp_path)
    write(s.token, content, mode)
    with caplog.at_level(logging.INFO):
        assert s.reloader.reload() is False
    (line,) = errors(caplog)
    assert why in line and "the running configuration is kept" in line and "\n" not in line
    assert content not in line  # the token is never logged
    assert admin(s.app, OLD) == 200 and admin(s.app, content) == 401


def test_a_missing_token_file_keeps_the_old_token(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    s = Setup(tmp_path)
    s.token.unlink()
    assert s.reloader.reload() is False
    assert "cannot read" in errors(caplog)[0]
    assert admin(s.app, OLD) == 200


def test_scrape_users_and_headers_are_reloaded(tmp_path: Path) -> None:
    s = Setup(tmp_path, users_yml({"prom": HASH}))
    assert metrics(s.app).status_code == 401
    assert metrics(s.app, basic("prom", "scrape-pass")).status_code == 200
    write(s.web, users_yml({"other": HASH2},
                           "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"))
    assert s.reloader.reload() is True
    assert metrics(s.app, basic("prom", "scrape-pass")).status_code == 401
    answer = metrics(s.app, basic("other", "other-pass"))
    assert answer.status_code == 200 and answer.headers["x-frame-options"] == "deny"
    assert admin(s.app, OLD) == 200  # the admin token is untouched


def test_a_broken_web_config_keeps_the_old_one(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    s = Setup(tmp_path, users_yml({"prom": HASH}))
    write(s.web, "basic_auth_users:\n  prom: plaintext-password\n")
    write(s.token, NEW)  # a good change with a bad one: nothing is applied
    assert s.reloader.reload() is False
    (line,) = errors(caplog)
    assert "is not a bcrypt hash" in line and "plaintext-password" not in line
    assert metrics(s.app, basic("prom", "scrape-pass")).status_code == 200
    assert metrics(s.app).status_code == 401
    assert admin(s.app, OLD) == 200 and admin(s.app, NEW) == 401


def test_unchanged_users_keep_their_verified_credentials(tmp_path: Path) -> None:
    s = Setup(tmp_path, users_yml({"prom": HASH}))
    assert metrics(s.app, basic("prom", "scrape-pass")).status_code == 200
    checker = s.reloader._scrape_users
    assert checker is not None and checker.bcrypt_checks == 1
    write(s.web, users_yml({"prom": HASH},
                           "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"))
    assert s.reloader.reload() is True
    assert metrics(s.app, basic("prom", "scrape-pass")).status_code == 200
    assert s.reloader._scrape_users is checker and checker.bcrypt_checks == 1  # cache hit


def test_file_changes_are_noticed_and_each_change_is_tried_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    s = Setup(tmp_path)
    assert s.reloader.check() is None  # nothing changed: nothing read
    write(s.token, NEW)
    assert s.reloader.check() is True
    assert admin(s.app, NEW) == 200 and admin(s.app, OLD) == 401
    assert s.reloader.check() is None
    write(s.token, "weak")
    assert s.reloader.check() is False
    assert s.reloader.check() is None  # one error line per change, not one per check
    assert len(errors(caplog)) == 1
    write(s.token, OLD)
    assert s.reloader.check() is True and admin(s.app, OLD) == 200


def test_the_reload_thread_reloads_on_request_and_on_change(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    s.reloader.check_interval = 0.05
    s.reloader.start()
    try:
        write(s.token, NEW)
        _wait(lambda: admin(s.app, NEW) == 200, "the file watcher")
        s.reloader.check_interval = 3600
        s.reloader.request()  # what SIGHUP does
        _wait(lambda: s.reloader.reloads == 2, "a requested reload")
    finally:
        s.reloader.stop()


def _wait(check: Any, what: str) -> None:
    for _ in range(200):
        if check():
            return
        asyncio.run(asyncio.sleep(0.025))
    pytest.fail(f"timed out waiting for {what}")


# TLS: the certificate chain is swapped on the running context; other settings are not.


@pytest.fixture(scope="module")
def authorities() -> Iterator[tuple[trustme.CA, trustme.CA]]:
    yield trustme.CA(), trustme.CA()


def tls_files(tmp_path: Path, ca: trustme.CA, name: str) -> tuple[Path, Path]:
    cert = ca.issue_cert("localhost")
    cert_path, key_path = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    key_path.chmod(0o600)
    return cert_path, key_path


def served_certificate(context: ssl.SSLContext) -> bytes:
    """Return the DER certificate a handshake with ``context`` presents (memory BIOs)."""
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    server = context.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for side in (client, server):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    der = client.getpeercert(binary_form=True)
    assert der is not None
    return der


def tls_yml(cert: Path, key: str | Path, extra: str = "") -> str:
    return f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n{extra}"


def test_a_renewed_certificate_is_served_after_a_reload(
        tmp_path: Path, authorities: tuple[trustme.CA, trustme.CA]) -> None:
    first, second = authorities
    cert, key = tls_files(tmp_path, first, "a")
    s = Setup(tmp_path, tls_yml(cert, key))
    assert s.ssl_context is not None
    before = served_certificate(s.ssl_context)
    assert before == ssl.PEM_cert_to_DER_cert(cert.read_text())
    new_cert, new_key = tls_files(tmp_path, second, "b")
    os.replace(new_cert, cert)  # renewed in place, e.g. by certbot or cert-manager
    os.replace(new_key, key)
    assert s.reloader.check() is True  # the certificate files are watched too
    after = served_certificate(s.ssl_context)
    assert after != before and after == ssl.PEM_cert_to_DER_cert(cert.read_text())


def test_a_mismatched_key_or_another_tls_setting_is_refused(
        tmp_path: Path, authorities: tuple[trustme.CA, trustme.CA],
        caplog: pytest.LogCaptureFixture) -> None:
    first, second = authorities
    cert, key = tls_files(tmp_path, first, "a")
    _, other_key = tls_files(tmp_path, second, "b")
    s = Setup(tmp_path, tls_yml(cert, key))
    assert s.ssl_context is not None
    before = served_certificate(s.ssl_context)
    write(s.web, tls_yml(cert, other_key))
    assert s.reloader.reload() is False
    write(s.web, tls_yml(cert, key, "  min_version: TLS13\n"))
    assert s.reloader.reload() is False
    write(s.web, "basic_auth_users: {}\n")  # TLS off
    assert s.reloader.reload() is False
    lines = errors(caplog)
    assert len(lines) == 3
    assert "cannot load key pair" in lines[0]
    assert "other TLS settings need a restart" in lines[1]
    assert "turning TLS on or off needs a restart" in lines[2]
    assert served_certificate(s.ssl_context) == before


def test_reloader_applies_on_the_event_loop_thread(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    reloader: Reloader = s.reloader
    threads: list[str] = []

    async def main() -> None:
        reloader.attach(asyncio.get_running_loop())
        threads.append(threading.current_thread().name)
        write(s.token, NEW)
        ok = await asyncio.to_thread(reloader.reload)
        assert ok

    original = reloader._prepare

    def prepare(new: Any) -> Any:
        apply = original(new)

        def traced() -> None:
            threads.append(threading.current_thread().name)
            apply()

        return traced

    reloader._prepare = prepare  # type: ignore[method-assign]
    asyncio.run(main())
    assert threads[0] == threads[1]  # applied on the loop's thread, not the reloader's
    assert admin(s.app, NEW) == 200
