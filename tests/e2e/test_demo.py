"""The exporter as a process: demo mode, promtool on live output, a simulator that dies
and comes back."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support import free_port, require_tool

EXPECTED_FAMILIES = {
    "podman_container_info", "podman_container_state", "podman_container_created_seconds",
    "podman_container_rootfs_size_bytes", "podman_container_rw_size_bytes",
    "podman_container_cpu_seconds", "podman_container_cpu_system_seconds",
    "podman_container_mem_usage_bytes", "podman_container_mem_limit_bytes",
    "podman_container_net_input", "podman_container_net_output",
    "podman_container_block_input", "podman_container_block_output", "podman_container_pids",
    "podman_image_info", "podman_image_size", "podman_image_created_seconds",
    "podman_image_containers", "podman_host_memory_total_bytes",
    "podman_host_memory_free_bytes", "podman_host_swap_free_bytes", "podman_host_cpus",
    "podman_host_uptime_seconds", "podman_host_info", "podman_store_containers",
    "podman_store_images", "podman_store_info", "podman_version_info", "podman_up",
    "podman_scrape_collector_success", "podman_scrape_collector_duration_seconds",
    "podman_exporter_last_collection_timestamp_seconds",
    "podman_exporter_collection_errors", "podman_exporter_build_info",
    "process_resident_memory_bytes",
}



def start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "podman_exporter", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {f.name: [(s.labels, s.value) for s in f.samples]
            for f in text_string_to_metric_families(text)}


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout}s (last error: {last})")


def up(port: int) -> float:
    return scrape(port)["podman_up"][0][1]


@pytest.fixture
def demo() -> Iterator[int]:
    port = free_port()
    proc = start("--demo", "--web.listen-address", f"127.0.0.1:{port}",
                 "--collect.interval", "1s")
    try:
        wait_for(lambda: up(port) == 1)
        yield port
    finally:
        stop(proc)
    assert proc.returncode == 0  # SIGTERM is a clean shutdown


def test_demo_serves_every_family_and_moves(demo: int) -> None:
    first = scrape(demo)
    missing = EXPECTED_FAMILIES - set(first)
    assert not missing, f"families missing in demo output: {sorted(missing)}"

    def cpu(metrics: dict[str, list[tuple[dict[str, str], float]]]) -> float:
        return sum(v for _, v in metrics["podman_container_cpu_seconds"])

    wait_for(lambda: cpu(scrape(demo)) > cpu(first))


def test_promtool_accepts_live_output(demo: int) -> None:
    promtool = require_tool("promtool")
    with urllib.request.urlopen(f"http://127.0.0.1:{demo}/metrics", timeout=5) as resp:
        body = resp.read()
    result = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                            check=False)
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()


def test_killed_simulator_gives_podman_up_0_then_recovers(tmp_path: Path) -> None:
    sock = tmp_path / "podman.sock"
    sim_args = ("simulate", "--address", f"unix:{sock}", "--containers", "12")
    simulator = start(*sim_args)
    port = free_port()
    exporter = start("--podman.url", f"unix:{sock}", "--podman.api", "varlink",
                     "--web.listen-address", f"127.0.0.1:{port}", "--collect.interval", "1s",
                     "--collect.max-age", "2s", "--podman.timeout", "500ms")
    try:
        wait_for(lambda: up(port) == 1)
        assert len(scrape(port)["podman_container_info"]) == 12
        simulator.kill()
        simulator.wait()
        wait_for(lambda: up(port) == 0)
        # after max-age the Podman series are dropped, the exporter keeps answering
        wait_for(lambda: "podman_container_info" not in scrape(port))
        assert exporter.poll() is None
        simulator = start(*sim_args)
        wait_for(lambda: up(port) == 1)
        assert len(scrape(port)["podman_container_info"]) == 12
    finally:
        stop(exporter)
        stop(simulator)


def test_json_logs_name_the_actor_and_never_the_token(tmp_path: Path) -> None:
    import json

    token = "do-not-log-this-token-0123456789"
    token_file = tmp_path / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    port, admin_port = free_port(), free_port()
    log = tmp_path / "exporter.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "podman_exporter", "--demo", "--log.format", "json",
         "--web.listen-address", f"127.0.0.1:{port}", "--collect.interval", "1s",
         "--admin.token-file", str(token_file),
         "--admin.listen-address", f"127.0.0.1:{admin_port}"],
        stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        wait_for(lambda: up(port) == 1)
        for auth in (f"Bearer {token}", "Bearer wrong-token-wrong-token"):
            request = urllib.request.Request(
                f"http://127.0.0.1:{admin_port}/admin/containers/prune?dry_run=true",
                method="POST",
                headers={"Authorization": auth})
            try:
                urllib.request.urlopen(request, timeout=10).close()
            except urllib.error.HTTPError as err:
                assert err.code == 401
    finally:
        stop(proc)
    text = log.read_text()
    assert token not in text
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
    actions = [r for r in records if r["msg"] == "admin action"]
    assert actions and actions[0]["who"] == "token" and actions[0]["action"] == "containers_prune"
    assert any("refused" in r["msg"] for r in records)
