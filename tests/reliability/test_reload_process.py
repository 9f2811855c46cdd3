"""Reload of a running exporter process: SIGHUP re-reads the admin token
and the web config instead of killing the process; a broken file keeps the running
configuration; a changed file is noticed without a signal."""

from __future__ import annotations

import base64
import http.client
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import bcrypt
import pytest
from rel_procs import Exporter, exporter

from podman_exporter.sim import SimOptions, start_simulator
from podman_exporter.web.reload import CHECK_INTERVAL
from support import free_port

OLD, NEW, NEWER = ("reload-old-token-0123456789", "reload-new-token-9876543210",
                   "reload-newer-token-5555512345")
USER, PASSWORD = "prometheus", "scrape-secret"


def status(port: int, path: str, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def replace(path: Path, text: str) -> None:
    new = path.with_name(path.name + ".new")
    new.write_text(text)
    new.chmod(0o600)
    os.replace(new, path)


def until(check: Callable[[], bool], what: str, exp: Exporter, within: float = 20) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        exp.alive()
        try:
            if check():
                return time.monotonic() - started
        except OSError:  # not listening yet
            pass
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}: {exp.log.read_text()[-2000:]}")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Exporter, int, Path, Path]]:
    token, web = tmp_path / "token", tmp_path / "web.yml"
    replace(token, OLD)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    replace(web, f"basic_auth_users:\n  {USER}: {hashed}\n")
    admin_port = free_port()
    with start_simulator(f"unix:{tmp_path}/podman.sock",
                         SimOptions(containers=5, images=2, seed=1)) as sim, \
            exporter(sim.address, "varlink", tmp_path / "exporter.log",
                     ["--admin.token-file", str(token), "--web.config.file", str(web),
                      "--admin.listen-address", f"127.0.0.1:{admin_port}"]) as exp:
        until(lambda: status(exp.port, "/metrics", basic(USER, PASSWORD)) == 200,
              "the first scrape", exp)
        yield exp, admin_port, token, web


def test_sighup_reloads_the_token_and_a_broken_web_config_keeps_the_old_one(
        running: tuple[Exporter, int, Path, Path], figures: dict[str, object]) -> None:
    exp, admin_port, token, web = running
    assert status(admin_port, "/admin/", bearer(OLD)) == 200

    replace(token, NEW)
    exp.proc.send_signal(signal.SIGHUP)
    took = until(lambda: status(admin_port, "/admin/", bearer(NEW)) == 200,
                 "the new token after SIGHUP", exp)
    assert status(admin_port, "/admin/", bearer(OLD)) == 401
    assert exp.proc.poll() is None  # SIGHUP no longer kills the exporter

    log_size = exp.log.stat().st_size
    replace(web, "basic_auth_users: [\n")  # invalid YAML
    exp.proc.send_signal(signal.SIGHUP)
    until(lambda: b"failed, the running configuration is kept" in
          exp.log.read_bytes()[log_size:], "the reload error line", exp)
    lines = exp.log.read_bytes()[log_size:].splitlines()
    errors = [line for line in lines if b"level=ERROR" in line]
    # One line per attempt (the file watcher may have tried once before the signal).
    assert errors and all(b"reload" in e and b"invalid YAML" in e for e in errors), lines
    assert all(line.startswith(b"ts=") for line in lines), lines  # no traceback
    # Still serving with the old web config: the old user works, no user is refused.
    assert status(exp.port, "/metrics", basic(USER, PASSWORD)) == 200
    assert status(exp.port, "/metrics", {}) == 401
    assert status(admin_port, "/admin/", bearer(NEW)) == 200
    figures["reload.sighup_to_new_token_s"] = round(took, 3)


def test_a_rotated_token_file_is_noticed_without_a_signal(
        running: tuple[Exporter, int, Path, Path]) -> None:
    exp, admin_port, token, _ = running
    replace(token, NEWER)
    took = until(lambda: status(admin_port, "/admin/", bearer(OLD)) == 401,
                 "the file watcher", exp, within=CHECK_INTERVAL * 3)
    assert status(admin_port, "/admin/", bearer(NEWER)) == 200
    assert took <= CHECK_INTERVAL * 2
