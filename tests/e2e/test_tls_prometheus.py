"""A real Prometheus scrapes over TLS with basic auth, using one web.yml's credentials.

Targets, all from the same web.yml (which ``promtool check web-config`` accepts):
- ``exporter``: ``podman-exporter --demo --web.config.file web.yml`` (the real CLI);
- ``middleware``: a tiny ASGI app behind the same TLS context and middleware in uvicorn;
- ``wrong-password`` / ``no-auth``: the exporter again, scraped with bad credentials,
  which must be down with a 401.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import trustme
import uvicorn
from podman_env import free_port

from podman_exporter.web.auth import apply_web_config
from podman_exporter.web.tls import build_ssl_context
from podman_exporter.web.webconfig import load_web_config
from support import require_tool as require

pytestmark = pytest.mark.prometheus

PASSWORD = "scrape-me-please"
METRICS = b"# HELP tiny_up A tiny app.\n# TYPE tiny_up gauge\ntiny_up 1\n"



async def tiny_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Serve a one-metric exposition on every path."""
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"text/plain; version=0.0.4")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": METRICS})


@pytest.fixture()
def web_yml(tmp_path: Path) -> Path:
    """Return a web.yml with TLS (cert for 127.0.0.1) and a bcrypt user; ca.pem beside it."""
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    server.cert_chain_pems[0].write_to_path(str(tmp_path / "server.pem"))
    server.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    path = tmp_path / "web.yml"
    path.write_text(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
        "  min_version: TLS12\n"
        "http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n"
    )
    run = subprocess.run(
        [require("promtool"), "check", "web-config", str(path)], capture_output=True, check=False
    )
    assert run.returncode == 0, run.stderr
    return path


@pytest.fixture()
def middleware_target(web_yml: Path) -> Iterator[int]:
    """Serve the tiny app with the web.yml's TLS and auth in uvicorn; yield its port."""
    config = load_web_config(str(web_yml))
    assert config.tls_server_config is not None
    context = build_ssl_context(config.tls_server_config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(
            apply_web_config(tiny_app, config),
            loop="uvloop",
            http="httptools",
            lifespan="off",
            log_level="critical",
            ssl_context_factory=lambda _c, _d: context,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:  # pytest-timeout guards a hang
        assert thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join()
    sock.close()


def https_status(url: str, ca_file: Path) -> int:
    """Return the HTTP status of a GET (no credentials), or 0 when nothing answers."""
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


@pytest.fixture()
def exporter_target(web_yml: Path, tmp_path: Path) -> Iterator[int]:
    """Run ``podman-exporter --demo`` with the web.yml; yield its port once it answers."""
    port = free_port()
    exe = shutil.which("podman-exporter") or str(Path(sys.executable).with_name("podman-exporter"))
    log = tmp_path / "exporter.log"
    args = ["--demo", "--web.config.file", str(web_yml)]
    command = [exe, *args, "--web.listen-address", f"127.0.0.1:{port}"]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"https://127.0.0.1:{port}/healthz"
        deadline = time.monotonic() + 30
        while https_status(url, web_yml.parent / "ca.pem") != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"exporter did not serve {url}: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def scrape_job(name: str, port: int, ca_file: Path, password: str | None) -> str:
    """Return a scrape config (JSON is YAML) for one HTTPS target."""
    job: dict[str, Any] = {
        "job_name": name,
        "scheme": "https",
        "tls_config": {"ca_file": str(ca_file)},
        "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
    }
    if password is not None:
        job["basic_auth"] = {"username": "prometheus", "password": password}
    return json.dumps(job)


def api(port: int, path: str) -> Any:
    """Return the ``data`` of a Prometheus API answer."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return json.load(response)["data"]


def test_prometheus_scrapes_over_tls_with_basic_auth(
    web_yml: Path, exporter_target: int, middleware_target: int, tmp_path: Path
) -> None:
    prometheus = require("prometheus")
    ca_file = web_yml.parent / "ca.pem"
    jobs = [
        scrape_job("exporter", exporter_target, ca_file, PASSWORD),
        scrape_job("middleware", middleware_target, ca_file, PASSWORD),
        scrape_job("wrong-password", exporter_target, ca_file, PASSWORD + "x"),
        scrape_job("no-auth", exporter_target, ca_file, None),
    ]
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        f"scrape_configs: [{', '.join(jobs)}]\n"
    )
    port = free_port()
    command = [
        prometheus,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    log = tmp_path / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        health: dict[str, tuple[str, str]] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                targets = api(port, "/api/v1/targets")["activeTargets"]
            except OSError:
                targets = []
            health = {t["labels"]["job"]: (t["health"], t["lastError"]) for t in targets}
            if len(health) == 4 and all(h != "unknown" for h, _ in health.values()):
                break
            assert proc.poll() is None, log.read_text()[-2000:]
            time.sleep(0.5)
        assert health["exporter"] == ("up", ""), health
        assert health["middleware"] == ("up", ""), health
        for job in ("wrong-password", "no-auth"):
            state, error = health[job]
            assert state == "down" and "401" in error, health
        up = api(port, "/api/v1/query?query=up")["result"]
        assert {r["metric"]["job"]: r["value"][1] for r in up} == {
            "exporter": "1",
            "middleware": "1",
            "wrong-password": "0",
            "no-auth": "0",
        }
        tiny = api(port, "/api/v1/query?query=tiny_up")["result"]
        assert [r["value"][1] for r in tiny] == ["1"]
        series = api(port, '/api/v1/query?query=count({job="exporter"})')["result"]
        assert int(series[0]["value"][1]) > 10  # the exporter's metrics really arrived
    finally:
        proc.terminate()
        proc.wait(timeout=30)
