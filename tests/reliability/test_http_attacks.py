"""HTTP attacks on a running exporter: slowloris, a header flood
and a bcrypt flood. Loopback only, bounded in time and in sockets; every
figure goes to the ``figures`` fixture (docs/reliability.md, section 6)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import socket
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from rel_procs import Probe, Simulator, exporter, get, up_is

from support import free_port

pytestmark = pytest.mark.timeout(240)

TOKEN = "reliability-admin-token-0123456789"
HALF_OPEN = 1_100
HEADER_TIMEOUT = 5.0  # web/server.py HEADER_TIMEOUT
BCRYPT_COST = 8  # ~30 ms a check here: 100 failures (the cache size) in ~3.5 s
FLOOD_SECONDS = 14.0


def _p(values: list[float], q: float) -> float:
    """Return the q-quantile of ``values`` in milliseconds (nearest rank)."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def _token_file(tmp_path: Path) -> str:
    path = tmp_path / "token"
    path.write_text(TOKEN)
    path.chmod(0o600)
    return str(path)


def _admin_probe(port: int) -> Probe:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/admin/", headers={"Authorization": f"Bearer {TOKEN}"})
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    return Probe(resp.status, body, time.perf_counter() - started)


def _probe_for(seconds: float, probe: Callable[[], Probe]) -> list[Probe]:
    answers: list[Probe] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answers.append(probe())
        time.sleep(0.02)
    return answers


def _closed(sock: socket.socket) -> bool:
    """Return whether the server closed ``sock`` (reads what it sent, never blocks)."""
    sock.setblocking(False)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_slowloris_does_not_starve_metrics_or_the_admin_listener(
        simulator: Simulator, tmp_path: Path, figures: dict[str, Any]) -> None:
    """1,100 sockets that never finish their request head, on the metrics listener.
    /metrics and the separate admin listener keep answering 200 while they are open,
    and every one of them is closed once the header timeout has passed."""
    admin_port = free_port()
    with exporter(simulator.address, "varlink", tmp_path / "exporter.log",
                  ["--admin.token-file", _token_file(tmp_path),
                   "--admin.listen-address", f"127.0.0.1:{admin_port}"]) as exp:
        exp.wait_for(up_is(1), "podman_up 1")
        assert _admin_probe(admin_port).status == 200
        baseline = [exp.probe().seconds for _ in range(20)]
        opened = time.monotonic()
        socks = []
        for _ in range(HALF_OPEN):
            sock = socket.create_connection(("127.0.0.1", exp.port))
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
            socks.append(sock)
        try:
            results: dict[str, list[Probe]] = {}
            window = max(1.0, HEADER_TIMEOUT - 1.0 - (time.monotonic() - opened))
            admin = threading.Thread(target=lambda: results.__setitem__(
                "admin", _probe_for(window, lambda: _admin_probe(admin_port))))
            admin.start()
            results["metrics"] = _probe_for(window, exp.probe)
            admin.join()
            time.sleep(max(0.0, opened + HEADER_TIMEOUT + 2.0 - time.monotonic()))
            closed = sum(_closed(sock) for sock in socks)
            exp.alive()
        finally:
            for sock in socks:
                sock.close()
    metrics, admin_answers = results["metrics"], results["admin"]
    figures["http.slowloris"] = {
        "half_open_sockets": HALF_OPEN,
        "metrics_probes": len(metrics),
        "metrics_p50_ms": _p([a.seconds for a in metrics], 0.5),
        "metrics_p99_ms": _p([a.seconds for a in metrics], 0.99),
        "metrics_p99_ms_before": _p(baseline, 0.99),
        "admin_probes": len(admin_answers),
        "admin_p99_ms": _p([a.seconds for a in admin_answers], 0.99),
        "closed_by_server_after_timeout": closed,
    }
    assert {a.status for a in metrics} == {200}, [a.status for a in metrics]
    assert {a.status for a in admin_answers} == {200}, [a.status for a in admin_answers]
    assert max(a.seconds for a in metrics + admin_answers) < 1.0
    assert closed == HALF_OPEN


def test_header_flood_is_refused_early(simulator: Simulator, tmp_path: Path,
                                       figures: dict[str, Any]) -> None:
    """One connection streaming a header of up to 400 MiB: refused with 431 after
    at most a few hundred KiB, RSS does not grow, /metrics keeps answering."""
    with exporter(simulator.address, "varlink", tmp_path / "exporter.log") as exp:
        exp.wait_for(up_is(1), "podman_up 1")
        rss_before = exp.rss()
        sock = socket.create_connection(("127.0.0.1", exp.port), timeout=5)
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Flood: ")
        chunk, sent, started = b"a" * 65536, 0, time.monotonic()
        probes: list[Probe] = []
        try:
            while sent < 400 * 2**20 and time.monotonic() - started < 20:
                sock.sendall(chunk)
                sent += len(chunk)
                if sent % (4 * 2**20) == 0:
                    probes.append(exp.probe())
        except OSError:
            pass  # refused and closed
        answer = b""
        with contextlib.suppress(OSError):
            while part := sock.recv(65536):
                answer += part
        sock.close()
        rss_after = exp.rss()
        probes += [exp.probe() for _ in range(10)]
    figures["http.header_flood"] = {
        "bytes_sent_before_refusal": sent,
        "answer": answer.split(b"\r\n", 1)[0].decode(errors="replace"),
        "rss_growth_mb": round((rss_after - rss_before) / 1e6, 2),
        "metrics_p99_ms": _p([p.seconds for p in probes], 0.99),
    }
    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]
    assert sent < 32 * 2**20  # cut off; what got through sat in the kernel's buffers
    assert rss_after - rss_before < 5_000_000
    assert {p.status for p in probes} == {200}


def _web_config(tmp_path: Path, password: bytes) -> str:
    hashed = bcrypt.hashpw(password, bcrypt.gensalt(rounds=BCRYPT_COST)).decode()
    path = tmp_path / "web.yml"
    path.write_text(f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    return str(path)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def _flood(port: int, clients: int, seconds: float) -> dict[str, int]:
    """Run ``clients`` concurrent wrong-password scrapers for ``seconds``; return the
    statuses they got (``timeout`` when no answer within 5 s)."""
    statuses: dict[str, int] = {}
    deadline = time.monotonic() + seconds

    async def one(i: int) -> None:
        while time.monotonic() < deadline:
            request = (f"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       f"Authorization: {_basic('prometheus', f'wrong-{i}-{time.time_ns()}')}"
                       "\r\n\r\n").encode()
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), 5)
                writer.write(request)
                line = await asyncio.wait_for(reader.readline(), 5)
                status = line.split(b" ")[1].decode() if line else "closed"
                writer.close()
            except (TimeoutError, OSError):
                status = "timeout"
            statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(one(i) for i in range(clients)))
    return statuses


def test_bcrypt_flood_does_not_lock_out_the_scraper(simulator: Simulator, tmp_path: Path,
                                                    figures: dict[str, Any]) -> None:
    """300 concurrent wrong-password requests for 14 s. The scraper's credentials,
    verified once before the flood, keep being answered 200 within a second, also
    after more failures than the cache holds (probes from 6 s to 13 s): successes are
    cached apart from failures, and bcrypt checks past the pending limit are refused
    rather than queued (web/auth.py)."""
    password = "scrape-secret"
    with exporter(simulator.address, "varlink", tmp_path / "exporter.log",
                  ["--web.config.file", _web_config(tmp_path, password.encode())]) as exp:
        good = {"Authorization": _basic("prometheus", password)}

        def scrape() -> Probe:
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", exp.port, timeout=5)
            try:
                conn.request("GET", "/metrics", headers=good)
                resp = conn.getresponse()
                body = resp.read()
                status = resp.status
            except OSError:  # refused before start, or no answer within 5 s
                status, body = 0, b""
            finally:
                conn.close()
            return Probe(status, body, time.perf_counter() - started)

        deadline = time.monotonic() + 30
        while scrape().status != 200:  # verified once (and cached) before the flood
            assert time.monotonic() < deadline, "the scraper was never let in"
            time.sleep(0.2)
        assert get(exp.port).status == 401
        result: dict[str, dict[str, int]] = {}
        flood = threading.Thread(target=lambda: result.__setitem__(
            "statuses", asyncio.run(_flood(exp.port, 300, FLOOD_SECONDS))))
        flood.start()
        time.sleep(6.0)
        probes = _probe_for(FLOOD_SECONDS - 7.0, scrape)
        flood.join()
        exp.alive()
    seconds = [p.seconds for p in probes]
    figures["http.bcrypt_flood"] = {
        "flood_clients": 300,
        "flood_answers": result.get("statuses", {}),
        "scrapes": len(probes),
        "scrapes_200": sum(p.status == 200 for p in probes),
        "scrape_p50_ms": _p(seconds, 0.5),
        "scrape_p99_ms": _p(seconds, 0.99),
        "scrape_mean_ms": round(statistics.fmean(seconds) * 1000, 2),
    }
    assert [p.status for p in probes] == [200] * len(probes)
    assert max(seconds) < 1.0

