"""Endpoint names: given, derived from the URL, unique; rootless sockets found on disk."""

from __future__ import annotations

import os
import pwd
import socket
from pathlib import Path

import pytest

from podman_exporter.podman.endpoints import (
    Endpoint,
    check_unique,
    derive_name,
    parse_endpoint,
    rootless_endpoints,
)
from podman_exporter.podman.ssh_tunnel import SshTarget


def some_user() -> tuple[int, str]:
    """Return a uid and login name of the user database other than root."""
    entry = next(p for p in pwd.getpwall() if p.pw_uid != 0)
    return entry.pw_uid, entry.pw_name


@pytest.mark.parametrize(("url", "name"), [
    ("unix:///run/podman/podman.sock", "root"),
    ("unix:/run/podman/io.projectatomic.podman", "root"),
    ("unix:/run/io.projectatomic.podman", "root"),
    ("ssh://core@db1.example:2222/run/podman/podman.sock", "core@db1.example"),
    ("ssh://db1.example/run/podman/podman.sock", "db1.example"),
    ("tcp://10.0.0.5:8888", "10.0.0.5:8888"),
    ("http://podman.internal:8080", "podman.internal:8080"),
    ("unix:///srv/app/podman.sock", "podman"),
])
def test_derived_names(url: str, name: str) -> None:
    assert derive_name(url) == name


def test_a_user_runtime_socket_is_named_after_its_login() -> None:
    uid, login = some_user()
    assert derive_name(f"unix:///run/user/{uid}/podman/podman.sock") == login
    assert derive_name("unix:///run/user/4000000123/podman/podman.sock") == "uid4000000123"


@pytest.mark.parametrize(("text", "endpoint"), [
    ("web=unix:///run/user/1001/podman/podman.sock",
     Endpoint("web", "unix:///run/user/1001/podman/podman.sock")),
    ("unix:///run/podman/podman.sock", Endpoint("root", "unix:///run/podman/podman.sock")),
    ("ssh://u@h/run/podman/podman.sock?identity=/k&known_hosts=/kh",
     Endpoint("u@h", "ssh://u@h/run/podman/podman.sock?identity=/k&known_hosts=/kh")),
    (" db = tcp://h:1 ", Endpoint("db", "tcp://h:1")),
])
def test_parse(text: str, endpoint: Endpoint) -> None:
    assert parse_endpoint(text.replace(" = ", "=")) == endpoint


def test_parse_rejects_a_name_without_url() -> None:
    with pytest.raises(ValueError, match="no URL"):
        parse_endpoint("")


def test_two_endpoints_with_one_name_are_refused() -> None:
    check_unique([Endpoint("a", "unix:///x"), Endpoint("b", "unix:///y")])
    with pytest.raises(ValueError, match="two endpoints are named 'podman'"):
        check_unique([parse_endpoint("unix:///a/podman.sock"),
                      parse_endpoint("unix:///b/podman.sock")])


def listen(path: Path) -> socket.socket:
    path.parent.mkdir(parents=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    return sock


def test_rootless_sockets_are_found_and_only_sockets(tmp_path: Path) -> None:
    uid, login = some_user()
    sockets = [listen(tmp_path / str(uid) / "podman" / "podman.sock"),
               listen(tmp_path / "0" / "podman" / "podman.sock")]
    (tmp_path / "4000000123" / "podman").mkdir(parents=True)
    (tmp_path / "4000000123" / "podman" / "podman.sock").write_text("not a socket")
    (tmp_path / "not-a-uid" / "podman").mkdir(parents=True)
    try:
        found = rootless_endpoints(str(tmp_path))
    finally:
        for sock in sockets:
            sock.close()
    assert found == [Endpoint(login, f"unix://{tmp_path}/{uid}/podman/podman.sock",
                              discovered=True)]
    assert rootless_endpoints(str(tmp_path / "missing")) == []
    os.unlink(tmp_path / str(uid) / "podman" / "podman.sock")
    assert rootless_endpoints(str(tmp_path)) == []


def test_ssh_target_from_url_and_defaults() -> None:
    target = SshTarget.parse("ssh://core@h:2222/run/podman/podman.sock?identity=/k",
                             identity="/default", known_hosts="/kh")
    assert target == SshTarget("core", "h", 2222, "/run/podman/podman.sock", "/k", "/kh")
    command = target.command("/usr/bin/ssh", "/tmp/l.sock")
    assert command[-2:] == ["/tmp/l.sock:/run/podman/podman.sock", "core@h"]
    assert "-oStrictHostKeyChecking=yes" in command and "-oBatchMode=yes" in command
    assert "-oUserKnownHostsFile=/kh" in command and "-oIdentityFile=/k" in command


@pytest.mark.parametrize(("url", "message"), [
    ("ssh://h", "no remote socket path"),
    ("ssh://h/run/podman/podman.sock", "no ssh key"),
    ("ssh://h/run/podman/podman.sock?identity=/k", "no known-hosts file"),
])
def test_ssh_target_refuses_incomplete_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SshTarget.parse(url)
