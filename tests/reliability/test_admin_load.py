"""Admin under load and faults: concurrent prunes, and actions while Podman is down."""

from __future__ import annotations

import http.client
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rel_procs import exporter

from podman_exporter.sim import SimOptions, start_simulator
from support import free_port

TOKEN = "reliability-admin-token-0123456789"


def post(port: int, path: str) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, headers={"Authorization": f"Bearer {TOKEN}",
                                            "Host": f"127.0.0.1:{port}"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def token_file(tmp_path: Path) -> str:
    path = tmp_path / "token"
    path.write_text(TOKEN)
    path.chmod(0o600)
    return str(path)


def test_concurrent_prunes_delete_each_container_once(tmp_path: Path,
                                                      figures: dict[str, Any]) -> None:
    with start_simulator(f"unix:{tmp_path}/podman.sock",
                         SimOptions(containers=200, images=20, seed=11)) as sim:
        stopped = {c["id"] for c in sim.fleet.list_containers()
                   if c["status"] not in ("running", "paused")}
        kept = {c["id"] for c in sim.fleet.list_containers()} - stopped
        admin_port = free_port()
        with exporter(sim.address, "varlink", tmp_path / "exporter.log",
                      ["--admin.token-file", token_file(tmp_path),
                       "--admin.listen-address", f"127.0.0.1:{admin_port}",
                       "--admin.rate-limit", "1000"]) as exp:
            exp.wait_for(lambda s: s["podman_up"][0].value == 1, "podman_up 1")
            with ThreadPoolExecutor(20) as pool:
                answers = list(pool.map(lambda _: post(admin_port, "/admin/containers/prune"),
                                        range(40)))
        codes = [code for code, _ in answers]
        assert codes == [200] * 40, codes
        removed = [cid for _, body in answers for cid in body["ids"]]
        assert len(removed) == len(set(removed)), "a container was deleted twice"
        assert set(removed) == stopped
        assert {c["id"] for c in sim.fleet.list_containers()} == kept
        figures["admin.concurrent_prunes"] = {"requests": 40, "removed": len(removed),
                                              "errors": 0}


def test_action_while_podman_is_down_changes_nothing(tmp_path: Path) -> None:
    address = f"unix:{tmp_path}/podman.sock"
    sim = start_simulator(address, SimOptions(containers=30, seed=5))
    before = sorted((c["id"], c["status"]) for c in sim.fleet.list_containers())
    admin_port = free_port()
    with exporter(address, "varlink", tmp_path / "exporter.log",
                  ["--admin.token-file", token_file(tmp_path),
                   "--admin.listen-address", f"127.0.0.1:{admin_port}"]) as exp:
        exp.wait_for(lambda s: s["podman_up"][0].value == 1, "podman_up 1")
        sim.stop()
        for path in ("/admin/containers/prune", "/admin/images/prune",
                     "/admin/containers/prune?dry_run=true"):
            code, body = post(admin_port, path)
            assert code == 503, body
        fleet = sim.fleet  # the fleet as the stopped service left it
        assert sorted((c["id"], c["status"]) for c in fleet.list_containers()) == before
        exp.wait_for(lambda s: s["podman_up"][0].value == 0, "podman_up 0")
