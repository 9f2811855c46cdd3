"""The Dockerfile: hadolint-clean, multi-stage, non-root, a working HEALTHCHECK.

These tests read the Dockerfile's instructions with dockerfile-parse and run the
HEALTHCHECK command itself against a local HTTP server; tests/e2e/test_image.py
builds and runs the image.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser  # type: ignore[import-untyped]

import podman_exporter
from support import require_tool

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())



@pytest.fixture(scope="module")
def parser() -> DockerfileParser:
    return DockerfileParser(path=str(DOCKERFILE))


def _stages(parser: DockerfileParser) -> list[list[dict[str, Any]]]:
    """Return the instructions grouped by build stage (the FROM line first)."""
    stages: list[list[dict[str, Any]]] = []
    for ins in parser.structure:
        if ins["instruction"] == "FROM":
            stages.append([])
        if stages and ins["instruction"] != "COMMENT":
            stages[-1].append(ins)
    return stages


def _one(stage: list[dict[str, Any]], instruction: str) -> str:
    """Return the value of the only `instruction` in a stage."""
    values = [i["value"] for i in stage if i["instruction"] == instruction]
    assert len(values) == 1, f"expected one {instruction}, got {values}"
    return str(values[0])


def _global_args(parser: DockerfileParser) -> dict[str, str]:
    """Return the ARG defaults declared before the first FROM."""
    args: dict[str, str] = {}
    for ins in parser.structure:
        if ins["instruction"] == "FROM":
            break
        if ins["instruction"] == "ARG" and "=" in ins["value"]:
            key, value = ins["value"].split("=", 1)
            args[key] = value
    return args


def test_hadolint_finds_nothing() -> None:
    hadolint = require_tool("hadolint")
    done = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""


def test_hadolint_rejects_a_sloppy_dockerfile(tmp_path: Path) -> None:
    """The lint above can fail: the same tool flags an unpinned, root-run image."""
    hadolint = require_tool("hadolint")
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install podman-exporter\nCMD podman-exporter\n")
    done = subprocess.run(
        [hadolint, "--no-color", str(bad)], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
    assert {"DL3007", "DL3013", "DL3042", "DL3025"} <= set(re.findall(r"DL\d+", done.stdout))


def test_multi_stage_build_then_clean_runtime(parser: DockerfileParser) -> None:
    stages = _stages(parser)
    assert len(stages) == 2
    build, runtime = stages
    assert _one(build, "FROM").endswith(" AS build")
    assert "pip wheel" in _one(build, "RUN")
    # The runtime stage installs only the build stage's wheels, fetching nothing.
    install = _one(runtime, "RUN")
    assert "--mount=type=bind,from=build" in install
    assert "--no-index" in install
    assert not [i for i in runtime if i["instruction"] in ("COPY", "ADD")]
    # Both stages start from the same base image.
    assert _one(build, "FROM").split()[0] == _one(runtime, "FROM") == "${BASE}"


def test_base_image_is_a_pinned_slim_python_that_the_package_supports(
    parser: DockerfileParser,
) -> None:
    image = _global_args(parser)["BASE"]
    match = re.fullmatch(r"docker\.io/library/python:(\d+)\.(\d+)\.(\d+)-slim-(\w+)", image)
    assert match, f"base image {image!r} is not a fully qualified, full-version slim tag"
    required = re.fullmatch(r">=(\d+)\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert required
    assert (int(match[1]), int(match[2])) >= (int(required[1]), int(required[2]))


def test_runtime_runs_as_a_non_root_numeric_user(parser: DockerfileParser) -> None:
    runtime = _stages(parser)[-1]
    user, _, group = _one(runtime, "USER").partition(":")
    assert user.isdigit() and int(user) != 0
    assert group.isdigit() and int(group) != 0
    # The user exists in the image with that uid.
    assert f"--uid {user}" in _one(runtime, "RUN")


def test_entrypoint_is_the_console_script(parser: DockerfileParser) -> None:
    runtime = _stages(parser)[-1]
    entrypoint = json.loads(_one(runtime, "ENTRYPOINT"))
    assert entrypoint == ["podman-exporter"]
    assert "podman-exporter" in PYPROJECT["project"]["scripts"]


def test_exposes_the_default_port(parser: DockerfileParser) -> None:
    assert _one(_stages(parser)[-1], "EXPOSE") == "9882"


def test_oci_labels_and_version_match_the_package(parser: DockerfileParser) -> None:
    labels = parser.labels
    for key in ("title", "description", "licenses", "version", "revision", "created"):
        assert labels.get(f"org.opencontainers.image.{key}"), key
    assert labels["org.opencontainers.image.version"] == podman_exporter.__version__
    license_ = PYPROJECT["project"]["license"]
    license_ = license_["text"] if isinstance(license_, dict) else license_
    assert labels["org.opencontainers.image.licenses"] == license_
    assert '"podman-exporter==${VERSION}"' in _one(_stages(parser)[-1], "RUN")


def _healthcheck(parser: DockerfileParser) -> tuple[list[str], dict[str, str]]:
    """Return the HEALTHCHECK's exec-form command and its options."""
    value = _one(_stages(parser)[-1], "HEALTHCHECK")
    options_text, sep, command = value.partition(" CMD ")
    assert sep, "HEALTHCHECK must use CMD"
    options = dict(o.removeprefix("--").split("=", 1) for o in shlex.split(options_text))
    return json.loads(command), options


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Return nothing: the test server logs nothing."""


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _run_probe(command: list[str], url: str) -> int:
    """Run the HEALTHCHECK command with this interpreter; return its exit code."""
    assert command[0] == "python"
    env = {**os.environ, "HEALTHCHECK_URL": url}
    done = subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True, check=False)
    return done.returncode


def test_healthcheck_probes_healthz_without_curl(
    parser: DockerfileParser, health_server: ThreadingHTTPServer
) -> None:
    command, options = _healthcheck(parser)
    assert not {"curl", "wget"} & set(" ".join(command).split())
    assert {"interval", "timeout", "retries"} <= options.keys()
    env = parser.envs
    assert env["HEALTHCHECK_URL"] == "http://127.0.0.1:9882/healthz"

    port = health_server.server_address[1]
    _Health.status = 200
    assert _run_probe(command, f"http://127.0.0.1:{port}/healthz") == 0
    _Health.status = 503
    assert _run_probe(command, f"http://127.0.0.1:{port}/healthz") != 0
    _Health.status = 200
    assert _run_probe(command, f"http://127.0.0.1:{port}/nothing-here") != 0
    health_server.shutdown()
    health_server.server_close()
    assert _run_probe(command, f"http://127.0.0.1:{port}/healthz") != 0
