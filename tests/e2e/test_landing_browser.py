"""The landing page in a real browser: Debian's chromium, headless, renders it for a healthy
and for an unreachable Podman; the test reads the rendered DOM, and keeps a screenshot
of each under build/test-artifacts/ (BROWSER_ARTIFACTS overrides the folder)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from exporter_proc import Exporter
from podman_env import PodmanEnv

from support import require_tool

pytestmark = pytest.mark.realpodman
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS") or
                 Path(__file__).resolve().parents[2] / "build" / "test-artifacts")


def chromium() -> str:
    """Return the chromium command (a failure in CI when it is missing)."""
    return require_tool("chromium")


def render(url: str, profile: Path, screenshot: Path) -> str:
    """Return the DOM chromium rendered for ``url``, and save its screenshot."""
    common = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              f"--user-data-dir={profile}", "--window-size=1200,900"]
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    shot = subprocess.run([*common, f"--screenshot={screenshot}", url], capture_output=True,
                          text=True, timeout=120, check=False)
    assert screenshot.exists() and screenshot.stat().st_size > 0, shot.stderr[-2000:]
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120, check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    return dom.stdout


def text(dom: str) -> str:
    """Return the rendered page's text, tags removed and spaces folded."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))


@pytest.fixture()
def healthy(podman_env: PodmanEnv, tmp_path: Path) -> Iterator[Exporter]:
    """Return an exporter on the suite's private Podman, after a collection."""
    exp = Exporter(["--podman.api", "rest", "--podman.url", f"root={podman_env.url}"],
                   tmp_path / "healthy.log")
    exp.wait_for(lambda s: bool(s.get("podman_up")) and s["podman_up"][0].value == 1,
                 "podman_up 1")
    yield exp
    exp.stop()


def test_a_healthy_podman_in_a_browser(healthy: Exporter, podman_env: PodmanEnv,
                                       tmp_path: Path) -> None:
    dom = render(f"http://127.0.0.1:{healthy.port}/", tmp_path / "profile",
                 ARTIFACTS / "landing-healthy.png")
    page = text(dom)
    assert "Endpoint root" in page
    assert re.search(rf"{re.escape(podman_env.url)} — reachable ?\(rest\)", page), page[:2000]
    for collector in ("containers", "stats", "images", "host"):
        assert re.search(rf"\b{collector} ok \d+\.\d ms", page), (collector, page[:3000])
    assert "failed" not in page
    assert 'href="/metrics"' in dom and "docs/metrics.md" in page


def test_an_unreachable_podman_in_a_browser(tmp_path: Path) -> None:
    missing = tmp_path / "gone" / "podman.sock"
    exp = Exporter(["--podman.api", "rest", "--podman.url", f"lost=unix://{missing}"],
                   tmp_path / "broken.log")
    try:
        exp.wait_for(lambda s: bool(s.get("podman_up")) and s["podman_up"][0].value == 0,
                     "podman_up 0")
        dom = render(f"http://127.0.0.1:{exp.port}/", tmp_path / "profile",
                     ARTIFACTS / "landing-unreachable.png")
    finally:
        exp.stop()
    page = text(dom)
    assert "Endpoint lost" in page
    # The reason, with the socket it concerns, is on the page.
    assert re.search(rf"unix://{re.escape(str(missing))} — unreachable ?: .*"
                     rf"{re.escape(str(missing))}", page), page[:3000]
    assert re.search(r"\bcontainers failed \d+\.\d ms .*\S", page)
