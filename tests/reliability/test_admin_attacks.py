"""Attacks on the admin endpoint of a real exporter process.

The exporter runs with a token and a separate admin listener over a simulated Podman;
every attack is made with a client that could be a browser on another site, a guesser
on the admin's own address, or a client forging forwarding headers.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rel_procs import Exporter, exporter

from podman_exporter.sim import SimOptions, SimulatorHandle, start_simulator
from support import free_port

TOKEN = "reliability-admin-token-0123456789"
FAILURE_LIMIT = 10


def request(port: int, method: str, path: str, headers: dict[str, str] | None = None,
            body: bytes | None = None) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, json.loads(data) if data.startswith(b"{") else {}
    finally:
        conn.close()


def state(sim: SimulatorHandle) -> list[tuple[str, str]]:
    return sorted((c["id"], c["status"]) for c in sim.fleet.list_containers())


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[SimulatorHandle, Exporter, int]]:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    admin_port = free_port()
    with start_simulator(f"unix:{tmp_path}/podman.sock",
                         SimOptions(containers=40, images=8, seed=7)) as sim, \
            exporter(sim.address, "varlink", tmp_path / "exporter.log",
                     ["--admin.token-file", str(token),
                      "--admin.listen-address", f"127.0.0.1:{admin_port}",
                      "--admin.failure-limit", str(FAILURE_LIMIT)]) as exp:
        exp.wait_for(lambda s: s["podman_up"][0].value == 1, "podman_up 1")
        yield sim, exp, admin_port


def test_cross_site_posts_with_a_valid_token_change_nothing(
        setup: tuple[SimulatorHandle, Exporter, int], figures: dict[str, Any]) -> None:
    """What a page on another site can send is refused, credentials or not."""
    sim, exp, port = setup
    before = state(sim)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    attacks = [
        ({"Origin": "http://evil.example",
          "Content-Type": "application/x-www-form-urlencoded"}, b"dry_run=false"),
        ({"Content-Type": "text/plain"}, b"{}"),
        ({"Content-Type": "multipart/form-data; boundary=x"}, b"--x--"),
        ({"Sec-Fetch-Site": "cross-site"}, None),
        ({"Origin": "null"}, None),
    ]
    codes = [request(port, "POST", "/admin/containers/prune", {**auth, **extra}, body)[0]
             for extra, body in attacks]
    assert codes == [403] * len(attacks)
    # The admin endpoint is served on its own listener only.
    assert request(exp.port, "POST", "/admin/containers/prune", auth)[0] == 404
    assert b"/admin" not in exp.probe("/").body
    assert state(sim) == before
    figures["admin.cross_site_refused"] = {"attacks": len(attacks), "refused_403": len(codes)}


def test_guessing_does_not_lock_out_the_admin(
        setup: tuple[SimulatorHandle, Exporter, int], figures: dict[str, Any]) -> None:
    """100 bad requests from the admin's own address are limited (429 after the
    limit) while the real token keeps working at once."""
    _, _, port = setup
    codes = [request(port, method, path, {"Authorization": f"Bearer guess-{i}"})[0]
             for i in range(50) for method, path in (("POST", "/admin/containers/prune"),
                                                      ("GET", "/admin/"))]
    assert codes[:FAILURE_LIMIT] == [401] * FAILURE_LIMIT
    assert set(codes[FAILURE_LIMIT:]) == {429}
    started = time.monotonic()
    code, body = request(port, "POST", "/admin/containers/prune?dry_run=true",
                         {"Authorization": f"Bearer {TOKEN}"})
    took = time.monotonic() - started
    assert code == 200, body
    figures["admin.lockout"] = {"bad_requests": len(codes), "answered_401": codes.count(401),
                                "answered_429": codes.count(429),
                                "valid_token_after_ms": round(took * 1000, 1)}


def test_forwarded_for_does_not_pick_the_limiter_key(
        setup: tuple[SimulatorHandle, Exporter, int]) -> None:
    """Rotating X-Forwarded-For from 127.0.0.1 must not escape the failure limit."""
    _, _, port = setup
    codes = [request(port, "POST", "/admin/containers/prune",
                     {"Authorization": "Bearer guess", "X-Forwarded-For": f"203.0.113.{i}"})[0]
             for i in range(FAILURE_LIMIT + 5)]
    assert codes[FAILURE_LIMIT:] == [429] * 5
