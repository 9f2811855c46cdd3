"""deploy/: the systemd unit, sysusers entry, socket drop-in, quadlet and scrape configs.

Each file is checked by the real tool where this machine has it
(`systemd-analyze verify`, `systemd-analyze security --offline`,
`systemd-sysusers --root`, `promtool check config`, quadlet `-dryrun`), and the
quadlet also by parsing it against the keys Podman 4.4's quadlet accepts. The
units are verified, not run: systemd is not PID 1 on the test machines.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import require_tool, unavailable

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
UNIT = SYSTEMD / "podman-exporter.service"
SOCKET_DROPIN = SYSTEMD / "podman.socket.d" / "podman-exporter.conf"
SYSUSERS = SYSTEMD / "podman-exporter.sysusers.conf"
ENV_FILE = SYSTEMD / "podman-exporter.env"
QUADLET = DEPLOY / "quadlet" / "podman-exporter.container"
PROMETHEUS = DEPLOY / "prometheus"
PROMETHEUS_CONFIGS = sorted(PROMETHEUS.glob("prometheus-*.yml"))
RULES = ROOT / "alerts" / "podman.rules.yml"
QUADLET_BIN = Path("/usr/libexec/podman/quadlet")
INSTALL_MD = ROOT / "docs" / "install.md"
PODMAN_SOCKET_UNIT = Path("/usr/lib/systemd/system/podman.socket")
PODMAN_USER_SOCKET_UNIT = Path("/usr/lib/systemd/user/podman.socket")

# [Container] keys of the first quadlet release (Podman 4.4): the file must not
# need a newer Podman.
QUADLET_44_CONTAINER_KEYS = {
    "AddCapability", "AddDevice", "Annotation", "ContainerName", "DropCapability",
    "Environment", "EnvironmentFile", "EnvironmentHost", "Exec", "ExposeHostPort",
    "Group", "Image", "IP", "IP6", "Label", "LogDriver", "Mount", "Network",
    "NoNewPrivileges", "Notify", "PublishPort", "ReadOnly", "RemapGid", "RemapUid",
    "RemapUidSize", "RemapUsers", "RunInit", "SeccompProfile", "SecurityLabelDisable",
    "SecurityLabelFileType", "SecurityLabelLevel", "SecurityLabelType", "Timezone",
    "User", "VolatileTmp", "Volume",
}  # fmt: skip


def _tool(name: str, path: Path | None = None) -> str:
    """Return the path of a required tool (or of ``path`` if given): see support.unavailable."""
    if path is None:
        return require_tool(name)
    if not path.exists():
        unavailable(f"{name} is not installed ({path} is missing)")
    return str(path)


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    """Return the finished process, output captured as text."""
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """Return a systemd-style unit file as {section: [(key, value), ...]} in file order."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"not a key=value line in a section: {raw!r}"
        current.append((key.strip(), value.strip()))
    return sections


def _values(section: list[tuple[str, str]], key: str) -> list[str]:
    """Return every value given to `key` in a section."""
    return [v for k, v in section if k == key]


def _verify(unit: Path) -> subprocess.CompletedProcess[str]:
    """Return `systemd-analyze verify` run on one unit file."""
    return _run(_tool("systemd-analyze"), "verify", "--man=no", str(unit))


def _unit_with_existing_binary(tmp_path: Path, text: str) -> Path:
    """Return a copy of the unit whose ExecStart binary exists on this machine.

    verify checks that the binary is executable; the unit names the documented
    install location (/opt/podman-exporter), which this machine does not have.
    """
    installed = Path(sys.prefix) / "bin" / "podman-exporter"
    binary = str(installed) if installed.exists() else sys.executable
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace("/opt/podman-exporter/bin/podman-exporter", binary))
    return copy


def test_install_docs_name_only_existing_deploy_files() -> None:
    """The files docs/install.md's commands install from deploy/ are there."""
    blocks = "\n".join(re.findall(r"^```sh\n(.*?)^```", INSTALL_MD.read_text(), re.S | re.M))
    named = set(re.findall(r"(?<![\w/.])deploy/[\w./-]+", blocks))
    assert {str(UNIT.relative_to(ROOT)), str(QUADLET.relative_to(ROOT))} <= named
    missing = sorted(n for n in named if not (ROOT / n).is_file())
    assert not missing, missing


def test_service_unit_verifies_cleanly(tmp_path: Path) -> None:
    done = _verify(_unit_with_existing_binary(tmp_path, UNIT.read_text()))
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr


def test_verify_reports_a_mistyped_key(tmp_path: Path) -> None:
    """The check above can fail: a typo in a hardening key is reported."""
    text = UNIT.read_text().replace("ProtectSystem=strict", "ProtectSytem=strict")
    done = _verify(_unit_with_existing_binary(tmp_path, text))
    assert "Unknown key 'ProtectSytem'" in done.stderr


def test_service_is_hardened() -> None:
    service = parse_unit(UNIT.read_text())["Service"]
    settings = dict(service)
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "User": "podman-exporter",
        "Group": "podman-exporter",
    }
    assert {k: settings.get(k) for k in expected} == expected
    assert _values(service, "SystemCallFilter")[0] == "@system-service"
    assert settings["EnvironmentFile"].lstrip("-") == "/etc/default/podman-exporter"
    assert settings["ExecStart"].split()[0] == "/opt/podman-exporter/bin/podman-exporter"


def test_security_exposure_is_low(tmp_path: Path) -> None:
    unit = _unit_with_existing_binary(tmp_path, UNIT.read_text())
    done = _run(_tool("systemd-analyze"), "security", "--offline=true", "--no-pager", str(unit))
    assert done.returncode == 0, done.stderr
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert match, done.stdout
    # systemd's scale: 0 (safe) .. 10 (unsafe); an unhardened unit scores 9.6.
    assert float(match[1]) <= 2.0, done.stdout


def test_environment_file_sets_only_exporter_variables() -> None:
    lines = [ln for ln in ENV_FILE.read_text().splitlines() if ln and not ln.startswith("#")]
    keys = [ln.split("=", 1)[0] for ln in lines]
    assert "ARGS" in keys  # ExecStart expands $ARGS
    assert all(k == "ARGS" or k.startswith("PODMAN_EXPORTER_") for k in keys), keys
    assert "$ARGS" in dict(parse_unit(UNIT.read_text())["Service"])["ExecStart"]


def test_sysusers_creates_the_unit_user_and_socket_group(tmp_path: Path) -> None:
    sysusers = _tool("systemd-sysusers")
    (tmp_path / "etc").mkdir()
    done = _run(sysusers, f"--root={tmp_path}", str(SYSUSERS))
    assert done.returncode == 0, done.stderr
    passwd = {
        ln.split(":")[0]: ln.split(":") for ln in (tmp_path / "etc/passwd").read_text().splitlines()
    }
    groups = {ln.split(":")[0] for ln in (tmp_path / "etc/group").read_text().splitlines()}
    service = dict(parse_unit(UNIT.read_text())["Service"])
    user = passwd[service["User"]]
    assert service["Group"] in groups
    assert int(user[2]) < 1000, "a system uid"
    assert user[6] == "/usr/sbin/nologin"
    socket_group = dict(parse_unit(SOCKET_DROPIN.read_text())["Socket"])["SocketGroup"]
    assert socket_group in groups


def test_socket_dropin_verifies_on_podmans_socket_unit(tmp_path: Path) -> None:
    """The drop-in's settings, appended to Podman's own podman.socket, verify cleanly."""
    if not PODMAN_SOCKET_UNIT.exists():
        _tool("podman.socket", PODMAN_SOCKET_UNIT)
    merged = tmp_path / "podman.socket"
    merged.write_text(PODMAN_SOCKET_UNIT.read_text() + "\n" + SOCKET_DROPIN.read_text())
    done = _verify(merged)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    socket = dict(parse_unit(SOCKET_DROPIN.read_text())["Socket"])
    assert socket == {"SocketGroup": "podman-exporter", "SocketMode": "0660"}


def _doc_blocks(language: str) -> list[str]:
    """Return the ``language`` code blocks of docs/install.md, list indentation removed."""
    found = re.findall(rf"^( *)```{language}\n(.*?)^\1```", INSTALL_MD.read_text(), re.S | re.M)
    return [textwrap.dedent(body) for _, body in found]


def _documented_dropins(target: str) -> list[str]:
    """Return the drop-ins docs/install.md gives for ``target``, a directory such as
    ``/etc/systemd/system/podman-exporter.service.d/`` named on their first line."""
    return [b for b in _doc_blocks("ini") if b.startswith(f"# {target}")]


def test_documented_service_dropins_verify_with_the_unit(tmp_path: Path) -> None:
    """The drop-ins of "Several Podmans on one host" (root, or ACLs) on top of the unit."""
    dropins = _documented_dropins("/etc/systemd/system/podman-exporter.service.d/")
    assert len(dropins) == 2
    for dropin in dropins:
        merged = _unit_with_existing_binary(tmp_path, UNIT.read_text() + "\n" + dropin)
        done = _verify(merged)
        assert done.returncode == 0, done.stderr
        assert done.stderr == "", done.stderr
        assert dict(parse_unit(dropin)["Service"])["ProtectHome"] == "read-only"


def test_documented_user_socket_dropin_verifies_on_podmans_user_socket(tmp_path: Path) -> None:
    (dropin,) = _documented_dropins("/etc/systemd/user/podman.socket.d/")
    commands = _values(parse_unit(dropin)["Socket"], "ExecStartPost")
    assert [c.split()[0] for c in commands] == ["/usr/bin/setfacl"] * 2
    if not PODMAN_USER_SOCKET_UNIT.exists():
        _tool("podman.socket (user)", PODMAN_USER_SOCKET_UNIT)
    if not Path("/usr/bin/setfacl").exists():  # verify wants an executable
        dropin = dropin.replace("/usr/bin/setfacl", shutil.which("true") or "/bin/true")
    merged = tmp_path / "podman.socket"
    merged.write_text(PODMAN_USER_SOCKET_UNIT.read_text() + "\n" + dropin)
    done = _verify(merged)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr


def test_documented_fleet_config_passes_promtool(tmp_path: Path) -> None:
    """The scrape config and target file of docs/install.md, "A fleet", as written."""
    (config,) = [b for b in _doc_blocks("yaml") if "http_sd_configs" in b]
    (targets,) = _doc_blocks("json")
    shipped = PROMETHEUS / "targets" / "podman-hosts.json"
    assert json.loads(targets) == json.loads(shipped.read_text())
    copy = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS, copy)
    (copy / "rules").mkdir()
    shutil.copy(RULES, copy / "rules")
    (copy / "fleet.yml").write_text(config)
    done = _run(_tool("promtool"), "check", "config", str(copy / "fleet.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr
    assert "SUCCESS: 1 rule files found" in done.stdout, done.stdout


def test_quadlet_uses_podman_44_keys_and_mounts_the_socket() -> None:
    quadlet = parse_unit(QUADLET.read_text())
    assert set(quadlet) <= {"Unit", "Container", "Service", "Install"}
    container = quadlet["Container"]
    unknown = {k for k, _ in container} - QUADLET_44_CONTAINER_KEYS
    assert not unknown, f"keys Podman 4.4's quadlet does not know: {unknown}"
    settings = dict(container)
    assert settings["Image"].startswith("localhost/podman-exporter:")
    socket_mount = _values(container, "Volume")
    assert socket_mount == ["%t/podman/podman.sock:/run/podman/podman.sock"]
    url = "PODMAN_EXPORTER_PODMAN_URL=unix:///run/podman/podman.sock"
    assert url in _values(container, "Environment")
    assert settings["PublishPort"] == "9882:9882"
    assert settings["DropCapability"] == "all"
    assert settings["NoNewPrivileges"] == "true"
    assert settings["ReadOnly"] == "true"
    assert _values(quadlet["Install"], "WantedBy") == ["default.target"]


def test_quadlet_generator_accepts_the_file(tmp_path: Path) -> None:
    """Run Podman's quadlet generator where it is installed (Podman 4.4 or later)."""
    if not QUADLET_BIN.exists():
        pytest.skip("Podman here is older than 4.4: no quadlet generator (file parsed above)")
    quadlet = str(QUADLET_BIN)
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    shutil.copy(QUADLET, unit_dir)
    env = {**os.environ, "QUADLET_UNIT_DIRS": str(unit_dir)}
    done = subprocess.run(
        [quadlet, "-dryrun"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "podman run" in done.stdout and "localhost/podman-exporter" in done.stdout


def _target_files(directory: Path) -> list[Path]:
    """Return the file_sd target files (YAML and JSON) under ``directory``."""
    found = (directory / "targets").glob("podman-*")
    return sorted(p for p in found if p.suffix in {".yml", ".json"})


def test_every_example_config_is_checked() -> None:
    names = {p.name for p in PROMETHEUS_CONFIGS}
    assert {"prometheus-single-host.yml", "prometheus-many-hosts.yml",
            "prometheus-http-sd.yml"} <= names
    assert {p.suffix for p in _target_files(PROMETHEUS)} == {".yml", ".json"}


@pytest.mark.parametrize("config", PROMETHEUS_CONFIGS, ids=lambda p: p.name)
def test_promtool_accepts_scrape_config(config: Path) -> None:
    done = _run(_tool("promtool"), "check", "config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr, "e.g. a file_sd file that does not exist"


@pytest.mark.parametrize("config", PROMETHEUS_CONFIGS, ids=lambda p: p.name)
def test_example_config_loads_the_rules_and_scrapes_job_podman(
    config: Path, tmp_path: Path
) -> None:
    """With alerts/podman.rules.yml copied into rules/ as the comments say, promtool
    checks every rule through the config; the job is named as the rules expect."""
    data = yaml.safe_load(config.read_text())
    assert data["rule_files"] == ["rules/*.yml"]
    assert [job["job_name"] for job in data["scrape_configs"]] == ["podman"]
    copy = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS, copy)
    (copy / "rules").mkdir()
    shutil.copy(RULES, copy / "rules")
    done = _run(_tool("promtool"), "check", "config", str(copy / config.name))
    assert done.returncode == 0, done.stdout + done.stderr
    rules = sum(len(group["rules"]) for group in yaml.safe_load(RULES.read_text())["groups"])
    assert "SUCCESS: 1 rule files found" in done.stdout, done.stdout
    assert f"SUCCESS: {rules} rules found" in done.stdout, done.stdout


def test_no_target_sets_the_endpoint_label() -> None:
    """A target label named endpoint would turn the exporter's own into exported_endpoint,
    and the dashboards and alerts would lose it."""
    groups = [g for path in _target_files(PROMETHEUS) for g in yaml.safe_load(path.read_text())]
    for config in PROMETHEUS_CONFIGS:
        for job in yaml.safe_load(config.read_text())["scrape_configs"]:
            groups += job.get("static_configs", [])
            for relabel in job.get("relabel_configs", []):
                assert relabel.get("target_label") != "endpoint", config.name
    assert groups
    for group in groups:
        assert "endpoint" not in group.get("labels", {}), group


@pytest.mark.parametrize("broken", [".yml", ".json"])
def test_promtool_checks_the_file_sd_targets(tmp_path: Path, broken: str) -> None:
    """The check above reads the targets files, YAML and JSON: a broken copy fails."""
    copy = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS, copy)
    (target,) = [p for p in _target_files(copy) if p.suffix == broken]
    target.write_text('[{"targets": "web-1:9882", "labels": ["broken"]}]\n')
    done = _run(_tool("promtool"), "check", "config", str(copy / "prometheus-many-hosts.yml"))
    assert done.returncode != 0


def _free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.prometheus
@pytest.mark.timeout(120)  # hang guard only: the loop below waits for discovery
def test_prometheus_discovers_and_relabels_the_file_sd_targets(tmp_path: Path) -> None:
    """A real Prometheus loads the many-hosts config and lists every target file entry."""
    prometheus = _tool("prometheus")
    copy = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS, copy)
    expected = {
        (target.split(".")[0], group["labels"]["env"])
        for path in _target_files(copy)
        for group in yaml.safe_load(path.read_text())  # JSON is YAML too
        for target in group["targets"]
    }
    port = _free_port()
    proc = subprocess.Popen(
        [
            prometheus,
            f"--config.file={copy / 'prometheus-many-hosts.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        active: list[dict[str, Any]] = []
        while len(active) < len(expected):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.2)
            try:
                url = f"http://127.0.0.1:{port}/api/v1/targets"
                with urllib.request.urlopen(url, timeout=5) as reply:
                    active = json.load(reply)["data"]["activeTargets"]
            except OSError:
                continue
    finally:
        proc.terminate()
        proc.wait()
    assert len(expected) == 5
    assert {(t["labels"]["instance"], t["labels"]["env"]) for t in active} == expected
    assert {t["labels"]["job"] for t in active} == {"podman"}
