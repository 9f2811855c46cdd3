"""Packaging: the wheel and sdist as users get them, and the container build context.

Builds the sdist and the wheel (`python -m build`: the wheel is built from the
sdist, so a file missing from either shows up), installs the wheel into a fresh
venv, runs `podman-exporter --version` and a short `--demo` scrape from that
venv. A missing package-data file (the varlink interface, ...) fails here.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import podman_exporter
from support import require_tool

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "exporter" / "podman_exporter"
VERSION = podman_exporter.__version__
PODMAN_UP = re.compile(r"^podman_up(\{[^}]*\})? 1(\.0)?$", re.MULTILINE)
DEMO_DEADLINE_S = 60.0


@dataclass(frozen=True)
class Built:
    """The built distributions and the venv the wheel went into."""

    wheel: Path
    sdist: Path
    venv: Path

    @property
    def exporter(self) -> Path:
        """Return the installed console script."""
        return self.venv / "bin" / "podman-exporter"


def _run(*argv: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Return the finished process, output captured as text; fail with its output."""
    done = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, check=False, **kwargs
    )  # type: ignore[call-overload]
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    work = tmp_path_factory.mktemp("packaging")
    dist = work / "dist"
    _run(sys.executable, "-m", "build", "--outdir", dist, ROOT)
    (wheel,) = dist.glob("podman_exporter-*.whl")
    (sdist,) = dist.glob("podman_exporter-*.tar.gz")
    venv = work / "venv"
    # A venv of its own: nothing from the development venv (editable install,
    # test tools) is visible. pip uses this machine's configured index.
    _run(sys.executable, "-m", "venv", venv)
    _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel)
    return Built(wheel=wheel, sdist=sdist, venv=venv)


def _package_files() -> set[str]:
    """Return every file of the package source tree, as podman_exporter/... paths."""
    return {
        p.relative_to(PACKAGE.parent).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    }


def test_wheel_ships_every_package_file(built: Built) -> None:
    names = set(zipfile.ZipFile(built.wheel).namelist())
    assert "podman_exporter/podman/io.projectatomic.podman.varlink" in names
    assert "podman_exporter/py.typed" in names
    missing = _package_files() - names
    assert not missing, f"files of the package left out of the wheel: {sorted(missing)}"
    assert built.wheel.name.startswith(f"podman_exporter-{VERSION}-")


def test_sdist_ships_every_package_file(built: Built) -> None:
    with tarfile.open(built.sdist) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    missing = {f"exporter/{f}" for f in _package_files()} - names
    assert not missing, f"files of the package left out of the sdist: {sorted(missing)}"
    assert "pyproject.toml" in names


def test_installed_wheel_reports_its_version(built: Built) -> None:
    done = _run(built.exporter, "--version", cwd=built.venv)
    assert VERSION in done.stdout + done.stderr


def _free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    """Return (status, body) of a GET; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, ""
    except OSError:
        return 0, ""


@pytest.fixture
def demo(built: Built) -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = _free_port()
    # Run outside the source tree so that only the installed package is importable.
    proc = subprocess.Popen(
        [str(built.exporter), "--demo", "--web.listen-address", f"127.0.0.1:{port}"],
        cwd=built.venv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("PODMAN_EXPORTER_")},
    )
    yield proc, f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_installed_wheel_serves_demo_metrics(demo: tuple[subprocess.Popen[str], str]) -> None:
    proc, base = demo
    deadline = time.monotonic() + DEMO_DEADLINE_S
    body = ""
    while time.monotonic() < deadline and proc.poll() is None:
        status, body = _get(f"{base}/metrics")
        if status == 200 and PODMAN_UP.search(body):
            break
        time.sleep(0.2)
    if proc.poll() is not None:
        out = proc.stdout.read() if proc.stdout else ""
        pytest.fail(f"the demo exporter exited with {proc.returncode}:\n{out}")
    assert PODMAN_UP.search(body), f"no `podman_up 1` within {DEMO_DEADLINE_S}s:\n{body[:2000]}"
    assert re.search(r"^podman_container_\w+", body, re.MULTILINE), "demo containers missing"
    assert _get(f"{base}/healthz")[0] == 200



@pytest.mark.realpodman
def test_dockerignore_sends_only_what_the_image_build_copies(tmp_path: Path) -> None:
    """Build the repo's context with the repo's .dockerignore into a FROM scratch
    image (no base image needed) and list what arrived."""
    podman = require_tool("podman")
    containerfile = tmp_path / "Containerfile"
    containerfile.write_text("FROM scratch\nCOPY . /ctx/\n")
    tag = f"localhost/podman-exporter-context:{os.getpid()}"
    _run(podman, "build", "--quiet", "--file", containerfile, "--tag", tag, ROOT)
    try:
        container = _run(podman, "create", tag, "/none").stdout.strip()
        try:
            export = tmp_path / "ctx.tar"
            _run(podman, "export", "--output", export, container)
            with tarfile.open(export) as tar:
                files = {n.removeprefix("ctx/") for n in tar.getnames() if n.startswith("ctx/")}
        finally:
            _run(podman, "rm", container)
    finally:
        _run(podman, "rmi", tag)
    # What the Dockerfile's build stage copies is there ...
    assert {"pyproject.toml", "README.md"} <= files
    assert "exporter/podman_exporter/podman/io.projectatomic.podman.varlink" in files
    assert {f"exporter/{f}" for f in _package_files()} <= files
    # ... and nothing else: no .git, .venv, tests, caches or build leftovers.
    stray = {
        f
        for f in files
        if f not in ("pyproject.toml", "README.md", "exporter")
        and not f.startswith("exporter/podman_exporter")
    }
    assert not stray, sorted(stray)[:20]
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
