"""The processes a benchmark runs: simulated Podman, exporter, naive reference, nginx.

Each runs in its own process (no shared GIL with the process it is compared to) and is
stopped by the ExitStack that started it.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

PYTHON = sys.executable
BENCH_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stat_fields(pid: int) -> list[str]:
    """Return the fields of ``/proc/PID/stat`` from field 3 (state) on: utime and stime
    are at 11 and 12, the reaped children's cutime and cstime at 13 and 14."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2:].split()  # the name may hold spaces and parens


@contextlib.contextmanager
def process(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` (output to ``log``) for the duration of the block; yield the Popen."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=BENCH_ROOT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait(ready: object, proc: subprocess.Popen[bytes], what: str, log: Path,
          timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode}): {log.read_text()[-2000:]}")
        if callable(ready) and ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} not ready after {timeout:.0f}s: {log.read_text()[-2000:]}")


def http_ok(port: int, path: str) -> bool:
    """Return whether GET ``path`` on 127.0.0.1:``port`` answers 200."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", path)
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


@contextlib.contextmanager
def simulator(workdir: Path, containers: int, latency: str) -> Iterator[str]:
    """Run ``podman-exporter simulate``; yield its varlink address."""
    sock = workdir / f"sim-{containers}-{latency}.sock"
    log = workdir / f"sim-{containers}-{latency}.log"
    argv = [PYTHON, "-m", "podman_exporter", "simulate", "--address", f"unix:{sock}",
            "--containers", str(containers), "--latency", latency]
    with process(argv, log) as proc:
        _wait(lambda: b"listening" in log.read_bytes(), proc, "simulator", log)
        yield f"unix:{sock}"


@contextlib.contextmanager
def rest_simulator(workdir: Path, containers: int) -> Iterator[str]:
    """Run the simulated REST Podman (bench.restsim); yield its ``unix://`` URL."""
    sock = workdir / f"restsim-{containers}.sock"
    log = workdir / f"restsim-{containers}.log"
    argv = [PYTHON, "-m", "bench.restsim", "--socket", str(sock),
            "--containers", str(containers)]
    with process(argv, log) as proc:
        _wait(lambda: b"listening" in log.read_bytes(), proc, "REST simulator", log)
        yield f"unix://{sock}"


@contextlib.contextmanager
def exporter(workdir: Path, address: str, *, connections: int = 16,
             interval: str = "15s", api: str = "varlink",
             extra: tuple[str, ...] = ()) -> Iterator[tuple[int, int]]:
    """Run the exporter against ``address`` (``extra``: more flags); yield (port, pid) once
    /metrics answers 200."""
    port = free_port()
    log = workdir / f"exporter-{port}.log"
    argv = [PYTHON, "-m", "podman_exporter", "--podman.url", address, "--podman.api", api,
            "--web.listen-address", f"127.0.0.1:{port}", "--podman.connections",
            str(connections), "--collect.interval", interval, *extra]
    with process(argv, log) as proc:
        _wait(lambda: http_ok(port, "/metrics"), proc, "exporter", log)
        yield port, proc.pid


@contextlib.contextmanager
def naive(workdir: Path, address: str) -> Iterator[int]:
    """Run the naive reference (bench.naive) against ``address``; yield its port."""
    port = free_port()
    log = workdir / f"naive-{port}.log"
    argv = [PYTHON, "-m", "bench.naive", "--address", address, "--port", str(port)]
    with process(argv, log) as proc:
        _wait(lambda: http_ok(port, "/metrics"), proc, "naive reference", log)
        yield port


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 120s;
  keepalive_requests 100000000;
  client_body_temp_path {prefix}/tmp;
  proxy_temp_path {prefix}/tmp;
  fastcgi_temp_path {prefix}/tmp;
  uwsgi_temp_path {prefix}/tmp;
  scgi_temp_path {prefix}/tmp;
  server_tokens off;
  types {{ }}
  default_type "{content_type}";
  server {{
    listen 127.0.0.1:{port};
    root {prefix}/www;
    location = /metrics {{ }}
    location = /gz/metrics {{ add_header Content-Encoding gzip; add_header Vary Accept-Encoding; }}
  }}
}}
"""


@contextlib.contextmanager
def nginx(workdir: Path, plain: bytes, gzipped: bytes, content_type: str) -> Iterator[int]:
    """Serve ``plain`` at /metrics and ``gzipped`` (Content-Encoding: gzip) at /gz/metrics
    with nginx; yield its port."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    prefix = workdir / "nginx"
    (prefix / "www" / "gz").mkdir(parents=True, exist_ok=True)
    (prefix / "tmp").mkdir(exist_ok=True)
    (prefix / "www" / "metrics").write_bytes(plain)
    (prefix / "www" / "gz" / "metrics").write_bytes(gzipped)
    for path in (workdir, *prefix.rglob("*"), prefix):
        path.chmod(0o755 if path.is_dir() else 0o644)
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(
        prefix=prefix, port=port, content_type=content_type,
        user="user root;" if os.geteuid() == 0 else ""))
    argv = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    with process(argv, prefix / "stdout.log") as proc:
        _wait(lambda: http_ok(port, "/metrics"), proc, "nginx", prefix / "error.log")
        yield port
