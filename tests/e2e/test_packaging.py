"""Packaging: the wheel and sdist as users get them, every documented install route,
and the container build context.

Builds the sdist and the wheel (`python -m build`: the wheel is built from the
sdist, so a file missing from either shows up), installs the wheel into a fresh
venv, runs `podman-exporter --version` and a short `--demo` scrape from that
venv. A missing package-data file (the varlink interface, ...) fails here.

The package is on no index, so docs/install.md installs it from a clone or from a
wheel built in one: with pip into a venv, or with pipx. Each of those command
lines is run here, as written, in a copy of this tree (only the venv paths are
moved into a temporary directory), and the docs may give no other pip or pipx
install command.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
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
DOCS = (ROOT / "README.md", ROOT / "docs" / "install.md")

# The install commands of docs/install.md, as written there. VENV and WHEEL_BUILD
# are replaced by temporary paths when the tests run them.
VENV = "/opt/podman-exporter"
WHEEL_BUILD = "/tmp/wheel-build"
MAKE_VENV = f"python3 -m venv {VENV}"
PIP_INSTALL_CLONE = f"{VENV}/bin/pip install ."
MAKE_WHEEL_VENV = f"python3 -m venv {WHEEL_BUILD}"
PIP_WHEEL = f"{WHEEL_BUILD}/bin/pip wheel --no-deps --wheel-dir dist ."
PIP_INSTALL_WHEEL = f"{VENV}/bin/pip install ./dist/podman_exporter-*.whl"
PIPX_INSTALL_CLONE = "pipx install ."
PIPX_INSTALL_WHEEL = "pipx install ./dist/podman_exporter-*.whl"
DOCUMENTED = (MAKE_VENV, PIP_INSTALL_CLONE, MAKE_WHEEL_VENV, PIP_WHEEL, PIP_INSTALL_WHEEL,
              PIPX_INSTALL_CLONE, PIPX_INSTALL_WHEEL)
# Files and directories of this tree that a fresh clone does not have.
NOT_IN_A_CLONE = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                  ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "tmp")


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


def _shell_commands(path: Path) -> list[tuple[str, ...]]:
    """Return the commands of a Markdown file's sh blocks, split into words, without sudo."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", path.read_text(), re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            commands.append(tuple(words[1:] if words[:1] == ["sudo"] else words))
    return [c for c in commands if c]


def test_docs_give_only_the_tested_install_commands() -> None:
    """Every pip/pipx install line of the docs is one the tests below run, and none
    installs from an index: the package is not published."""
    documented = {tuple(shlex.split(c)) for c in DOCUMENTED}
    for path in DOCS:
        installs = {
            c for c in _shell_commands(path)
            if Path(c[0]).name in ("pip", "pipx") and c[1:2] in (("install",), ("wheel",))
        }  # fmt: skip
        untested = installs - documented
        assert not untested, f"{path.name}: install commands no test runs: {untested}"
    commands = set(_shell_commands(DOCS[1]))
    assert documented <= commands, f"tested but not in docs/install.md: {documented - commands}"
    assert "not published" in DOCS[1].read_text()


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a copy of this tree as a fresh clone has it."""
    copy = tmp_path_factory.mktemp("clone") / "podman-exporter"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(*NOT_IN_A_CLONE), symlinks=True)
    return copy


def _sh(command: str, cwd: Path, paths: dict[str, Path], **env: str) -> None:
    """Run one documented command line in a shell, its paths replaced by ``paths``."""
    for documented, actual in paths.items():
        command = command.replace(documented, str(actual))
    clean = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    _run("sh", "-c", command, cwd=cwd, env={**clean, **env}, timeout=600)


def _reports_version(exporter: Path) -> None:
    """Check that an installed console script runs and reports the package's version."""
    done = _run(exporter, "--version", cwd=exporter.parent)
    assert VERSION in done.stdout + done.stderr


@pytest.fixture(scope="module")
def clone_wheel(clone: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the wheel built in the clone by the documented commands."""
    paths = {WHEEL_BUILD: tmp_path_factory.mktemp("wheel-build") / "venv"}
    _sh(MAKE_WHEEL_VENV, clone, paths)
    _sh(PIP_WHEEL, clone, paths)
    (wheel,) = (clone / "dist").glob("podman_exporter-*.whl")
    assert wheel.name == f"podman_exporter-{VERSION}-py3-none-any.whl"
    return wheel


def test_pip_installs_a_clone_into_a_venv(clone: Path, tmp_path: Path) -> None:
    paths = {VENV: tmp_path / "venv"}
    _sh(MAKE_VENV, clone, paths)
    _sh(PIP_INSTALL_CLONE, clone, paths)
    _reports_version(paths[VENV] / "bin" / "podman-exporter")
    # A regular install, not a link back to the clone.
    assert not list(paths[VENV].glob("lib/python*/site-packages/__editable__*"))


def test_pip_installs_the_wheel_into_a_venv(clone: Path, clone_wheel: Path,
                                            tmp_path: Path) -> None:
    paths = {VENV: tmp_path / "venv"}
    _sh(MAKE_VENV, clone, paths)
    _sh(PIP_INSTALL_WHEEL, clone, paths)
    _reports_version(paths[VENV] / "bin" / "podman-exporter")


@pytest.mark.parametrize("command", [PIPX_INSTALL_CLONE, PIPX_INSTALL_WHEEL])
def test_pipx_installs(command: str, clone: Path, clone_wheel: Path, tmp_path: Path) -> None:
    pipx = require_tool("pipx")
    home, bin_dir = tmp_path / "pipx", tmp_path / "bin"
    _sh(command.replace("pipx", pipx, 1), clone, {},
        PIPX_HOME=str(home), PIPX_BIN_DIR=str(bin_dir))
    _reports_version(bin_dir / "podman-exporter")



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
