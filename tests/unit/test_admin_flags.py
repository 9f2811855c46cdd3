"""The admin flags: the endpoint is an explicit opt-in on its own (loopback) listener."""

from __future__ import annotations

from pathlib import Path

import pytest

from podman_exporter.cli import build_parser, config_from_args
from podman_exporter.config import Config, ConfigError


def parse(*args: str) -> Config:
    return config_from_args(build_parser().parse_args(list(args)))


@pytest.fixture
def token(tmp_path: Path) -> str:
    path = tmp_path / "token"
    path.write_text("0123456789abcdef-token")
    path.chmod(0o600)
    return str(path)


def test_no_admin_no_admin_listener() -> None:
    assert parse().admin_listen_addresses == ()


def test_token_alone_serves_admin_on_loopback_only(token: str) -> None:
    """--admin.token-file alone never serves /admin on the metrics listener."""
    config = parse("--admin.token-file", token)
    assert config.admin_listen_addresses == (("127.0.0.1", 9883),)
    assert config.listen_addresses == (("", 9882),)


def test_users_file_alone_also_defaults_to_loopback(tmp_path: Path) -> None:
    config = parse("--admin.users-file", str(tmp_path / "users.yml"))
    assert config.admin_users_file == str(tmp_path / "users.yml")
    assert config.admin_listen_addresses == (("127.0.0.1", 9883),)


def test_explicit_admin_address_and_limits(token: str) -> None:
    config = parse("--admin.token-file", token, "--admin.listen-address", "[::1]:9999",
                   "--admin.failure-limit", "5", "--admin.rate-limit", "7")
    assert config.admin_listen_addresses == (("::1", 9999),)
    assert (config.admin_failure_limit, config.admin_rate_limit) == (5, 7)


def test_default_admin_port_clashing_with_web_is_refused(token: str) -> None:
    with pytest.raises(ConfigError, match="other ports"):
        parse("--admin.token-file", token, "--web.listen-address", ":9883")
