"""Flags, environment variables, validation (one line, exit 2), and the README flag table."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from podman_exporter.cli import build_parser, config_from_args
from podman_exporter.collect.collectors import COLLECTORS
from podman_exporter.config import ConfigError, parse_duration, parse_listen_address
from podman_exporter.flags import env_name
from podman_exporter.web.admin_guard import read_token, token_weakness

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- flags:start -->", "<!-- flags:end -->"


def parse(*args: str) -> argparse.Namespace:
    return build_parser().parse_args(list(args))


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "podman_exporter", *args], text=True, check=False,
                          capture_output=True, env={**os.environ, **(env or {})}, timeout=60)


def test_defaults() -> None:
    config = config_from_args(parse())
    assert config.listen_addresses == (("", 9882),)
    assert config.collect_interval == 15 and config.collect_max_age == 300  # 5 min > 3 x 15 s
    assert config.podman_connections == 8 and config.podman_timeout == 5
    assert config.collectors == {s.name for s in COLLECTORS if s.default}


def test_flags() -> None:
    config = config_from_args(parse(
        "--web.listen-address", "127.0.0.1:9000", "--web.listen-address", "[::1]:9001",
        "--collect.interval", "3m", "--no-collector.images",
        "--collector.container.labels", "app, tier,", "--podman.timeout", "250ms"))
    assert config.listen_addresses == (("127.0.0.1", 9000), ("::1", 9001))
    assert config.collect_interval == 180 and config.collect_max_age == 540  # 3 x interval
    assert "images" not in config.collectors and "stats" in config.collectors
    assert config.container_labels == ("app", "tier")
    assert config.podman_timeout == 0.25


def test_container_label_style(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_from_args(parse()).container_label_style == "prefixed"
    config = config_from_args(parse("--collector.container.labels.style", "go"))
    assert config.container_label_style == "go"
    monkeypatch.setenv("PODMAN_EXPORTER_COLLECTOR_CONTAINER_LABELS_STYLE", "go")
    assert config_from_args(parse()).container_label_style == "go"


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODMAN_EXPORTER_WEB_LISTEN_ADDRESS", ":1,127.0.0.1:2")
    monkeypatch.setenv("PODMAN_EXPORTER_COLLECTOR_IMAGES", "false")
    monkeypatch.setenv("PODMAN_EXPORTER_WEB_DISABLE_EXPORTER_METRICS", "true")
    monkeypatch.setenv("PODMAN_EXPORTER_COLLECT_INTERVAL", "5s")
    config = config_from_args(parse("--collect.interval", "7s"))  # a flag beats the env
    assert config.listen_addresses == (("", 1), ("127.0.0.1", 2))
    assert "images" not in config.collectors and config.disable_exporter_metrics
    assert config.collect_interval == 7


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--collect.interval", "15x"], {}, "invalid duration '15x'"),
    (["--collect.interval", "0s"], {}, "above zero"),
    (["--web.listen-address", "nope"], {}, "invalid listen address"),
    (["--podman.connections", "0"], {}, "at least 1"),
    (["--podman.api", "grpc"], {}, "invalid choice"),
    (["--collector.container.labels.style", "bare"], {}, "invalid choice"),
    ([], {"PODMAN_EXPORTER_COLLECTOR_CONTAINER_LABELS_STYLE": "Go"}, "invalid choice"),
    (["--collect.interval", "10s", "--collect.max-age", "5s"], {}, "must be at least"),
    (["--no-collector.containers"], {}, "--collector.stats needs --collector.containers"),
    (["--web.telemetry-path", "/healthz"], {}, "--web.telemetry-path"),
    ([], {"PODMAN_EXPORTER_PODMAN_TIMEOUT": "soon"}, "PODMAN_EXPORTER_PODMAN_TIMEOUT"),
    ([], {"PODMAN_EXPORTER_DEMO": "maybe"}, "invalid boolean"),
    (["--admin.token-file", "/nonexistent/token"], {}, "--admin.token-file"),
    (["--admin.listen-address", "127.0.0.1:9882"], {}, "other ports than --web.listen-address"),
    # int() and str.isdigit() take other scripts' digits; flags take ASCII only
    (["--podman.connections", "\uff11\uff12"], {}, "ASCII digits"),
    (["--web.max-requests", "\u0664\u0660"], {}, "ASCII digits"),  # Arabic-Indic 40
    (["--admin.rate-limit", "+5"], {}, "ASCII digits"),
    (["--demo.containers", "1_000"], {}, "ASCII digits"),
    ([], {"PODMAN_EXPORTER_PODMAN_CONNECTIONS": "\uff18"}, "ASCII digits"),
    (["--web.listen-address", ":\uff19\uff18\uff18\uff12"], {}, "invalid listen address"),
    (["--collect.interval", "\uff11\uff15s"], {}, "invalid duration"),
    (["--podman.url", "tcp:localhost:\uff11\uff12"], {}, "invalid varlink address"),
])
def test_bad_values_are_one_line_and_exit_2(args: list[str], env: dict[str, str],
                                            message: str) -> None:
    result = run_cli(*args, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert lines[0].startswith("podman-exporter: error: ")


def test_world_readable_token_file_is_refused(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("Zq3v9Lr2Xw8Nt5Kp\n")
    token.chmod(0o644)
    with pytest.raises(ConfigError, match="accessible by group or others"):
        config_from_args(parse("--admin.token-file", str(token)))
    token.chmod(0o600)
    assert config_from_args(parse("--admin.token-file", str(token))).admin_token_file


STRONG_TOKENS = ["0123456789abcdef-token", "12345678901234567890", "Zq3v9Lr2Xw8Nt5Kp",
                 "reliability-admin-token-0123456789", "5f0e8a3c1b9d7e2f4a6c8b0d1e3f5a7c",
                 "q1Zx2Wc3Ev4Rb5Tn6Ym7Uo8Ip9Oa0Ps1Dl2Kf3Jg4Hh5=="]
WEAK_TOKENS = [
    ("short-T0ken!", "at least 16"),
    ("correct horse battery staple", "no spaces"),
    ("caf\u00e9caf\u00e9caf\u00e9caf\u00e9x", "ASCII"),
    ("a" * 40, "1 different characters"),
    ("ab" * 20, "2 different characters"),
    ("1234567890123456789", "bits"),  # 19 digits: 63 bits
    ("1234567890123456", "bits"),
]


@pytest.mark.parametrize("token", STRONG_TOKENS)
def test_strong_tokens_are_accepted(token: str) -> None:
    assert token_weakness(token.encode()) is None


@pytest.mark.parametrize(("token", "why"), WEAK_TOKENS)
def test_weak_tokens_are_refused_at_start_in_one_line(tmp_path: Path, token: str,
                                                      why: str) -> None:
    """A short, repetitive or digits-only token is refused, one line, exit 2."""
    assert why in (token_weakness(token.encode()) or "")
    path = tmp_path / "token"
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=r"^--admin\.token-file: "):
        config_from_args(parse("--admin.token-file", str(path)))
    result = run_cli("--admin.token-file", str(path))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("podman-exporter: error: --admin.token-file: ")
    assert token not in result.stderr  # never echoed


def test_token_file_of_another_user_is_refused(tmp_path: Path) -> None:
    """The token file belongs to the exporter's user or to root."""
    path = tmp_path / "token"
    path.write_text(STRONG_TOKENS[0])
    path.chmod(0o600)
    me = os.geteuid()
    assert read_token(str(path)) == STRONG_TOKENS[0].encode()
    if me != 0:  # a file of ours, read as if the exporter ran as another user
        with pytest.raises(ValueError, match=f"owned by uid {me}, neither"):
            read_token(str(path), euid=me + 1)
        return
    assert read_token(str(path), euid=12345) == STRONG_TOKENS[0].encode()  # root's file
    os.chown(path, 65534, 65534)
    with pytest.raises(ValueError, match="owned by uid 65534, neither the exporter's user"):
        read_token(str(path))
    result = run_cli("--admin.token-file", str(path))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "owned by uid 65534" in lines[0]


def test_host_info_flag() -> None:
    assert config_from_args(parse()).host_info is True
    assert config_from_args(parse("--no-collector.host.info")).host_info is False


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("podman-exporter ")


@pytest.mark.parametrize(("text", "seconds"), [("15s", 15), ("1m30s", 90), ("250ms", 0.25),
                                               ("1h", 3600), ("1s500ms", 1.5), ("0", 0),
                                               ("1d2h", 93600), ("2w", 1209600),
                                               ("1y", 31536000), ("90m", 5400)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "15", "s", "1m 2s", "-1s", "1Y",
                                  # as Prometheus: integers, units in decreasing order, once
                                  "1s1h", "5m5m", "1.5h", "1ms1s", "1m1h", "0.5s", "1e3s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_parse_listen_address() -> None:
    assert parse_listen_address(":9882") == ("", 9882)
    assert parse_listen_address("[::]:1") == ("::", 1)
    for bad in ("9882", "host:", "[::1:5", "h:70000"):
        with pytest.raises(ValueError):
            parse_listen_address(bad)


def flag_rows() -> list[str]:
    """Return the README flag table rows, built from the parser itself."""
    rows = ["| Flag | Default | Environment | Meaning |", "|---|---|---|---|"]
    for action in build_parser()._actions:
        longs = [o for o in action.option_strings if o.startswith("--")]
        if not longs or action.dest in ("help", "version"):
            continue
        flag = " / ".join(f"`{o}`" for o in longs)
        help_text = (action.help or "").replace("%(default)s", str(action.default))
        match = re.search(r"\(default: ([^)]*)\)", help_text)
        default = match.group(1) if match else ("false" if action.nargs == 0 else "")
        meaning = re.sub(r"\s*\(default: [^)]*\)", "", help_text).replace("|", "\\|")
        rows.append(f"| {flag} | {default and f'`{default}`'} | `{env_name(longs[0])}` | "
                    f"{meaning} |")
    return rows


def test_readme_flag_table_matches_the_parser() -> None:
    text = README.read_text(encoding="utf-8")
    block = "\n".join([START, *flag_rows(), END])
    if os.environ.get("UPDATE_README"):
        start, end = text.index(START), text.index(END) + len(END)
        README.write_text(text[:start] + block + text[end:], encoding="utf-8")
        text = README.read_text(encoding="utf-8")
    assert block in text, "README flag table is out of date: run with UPDATE_README=1"


@pytest.mark.parametrize(("url", "api"), [
    ("http://localhost:8080", "auto"), ("https://host/podman.sock", "rest"),
    ("tcp://localhost", "auto"), ("tcp://localhost:1234", "varlink"),
    ("tcp:localhost:1234", "rest"),  # REST is served on a unix socket only
    ("podman.sock", "auto"), ("run/podman/podman.sock", "rest"), ("/run/podman.sock", "auto"),
    ("unix://tmp/x", "auto"), ("unix:", "auto"), ("unix:///", "rest"), ("unix:@abs", "rest"),
])
def test_invalid_podman_url_is_one_line_and_exit_2(url: str, api: str) -> None:
    with pytest.raises(ConfigError, match=r"^--podman\.url: "):
        config_from_args(parse("--podman.url", url, "--podman.api", api))
    result = run_cli("--podman.url", url, "--podman.api", api)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("podman-exporter: error: --podman.url: ")


@pytest.mark.parametrize("url", ["unix:/run/io.projectatomic.podman", "unix:///run/podman.sock",
                                 "unix:@podman", "tcp:127.0.0.1:12345", "tcp:[::1]:9"])
def test_valid_podman_urls(url: str) -> None:
    [endpoint] = config_from_args(parse("--podman.url", url)).podman_endpoints
    assert endpoint.url == url


def test_several_named_endpoints_and_ssh(tmp_path: Path) -> None:
    config = config_from_args(parse(
        "--podman.url", "web=unix:///run/user/1001/podman/podman.sock",
        "--podman.url", "unix:///run/podman/podman.sock",
        "--podman.url", "far=ssh://core@db1:2222/run/podman/podman.sock",
        "--podman.ssh-identity", "/k", "--podman.ssh-known-hosts", "/kh"))
    assert [(e.name, e.url) for e in config.podman_endpoints] == [
        ("web", "unix:///run/user/1001/podman/podman.sock"),
        ("root", "unix:///run/podman/podman.sock"),
        ("far", "ssh://core@db1:2222/run/podman/podman.sock")]


@pytest.mark.parametrize(("args", "message"), [
    (("--podman.url", "unix:///a/podman.sock", "--podman.url", "unix:///b/podman.sock"),
     "two endpoints are named 'podman'"),
    (("--podman.url", "ssh://core@db1/run/podman/podman.sock"), "no ssh key"),
    (("--podman.url", "ssh://db1/run/podman/podman.sock", "--podman.api", "varlink"),
     "ssh:// reaches Podman's REST API"),
    (("--podman.url", "unix:///a.sock", "--podman.url", "b=unix:///b.sock",
      "--podman.bridge", "ssh h -- varlink bridge"), "reaches one Podman"),
])
def test_bad_endpoints_are_one_clear_line(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_args(parse(*args))


def test_without_a_url_one_endpoint_searches_the_default_sockets() -> None:
    [endpoint] = config_from_args(parse()).podman_endpoints
    assert endpoint.url == "" and endpoint.name == ("root" if os.getuid() == 0 else
                                                   endpoint.name)
    assert config_from_args(parse("--podman.discover-rootless")).podman_endpoints == ()


def test_command_line_replaces_a_repeatable_flag_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODMAN_EXPORTER_WEB_LISTEN_ADDRESS", ":1,127.0.0.1:2")
    monkeypatch.setenv("PODMAN_EXPORTER_ADMIN_LISTEN_ADDRESS", "127.0.0.1:7")
    config = config_from_args(parse("--web.listen-address", ":3", "--web.listen-address", ":4",
                                    "--admin.listen-address", "127.0.0.1:8"))
    assert config.listen_addresses == (("", 3), ("", 4))
    assert config.admin_listen_addresses == (("127.0.0.1", 8),)
    config = config_from_args(parse())  # no flag: the environment's list stands
    assert config.listen_addresses == (("", 1), ("127.0.0.1", 2))
    assert config.admin_listen_addresses == (("127.0.0.1", 7),)
