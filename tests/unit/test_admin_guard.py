"""The admin guard: bounded limiter, cross-site refusal, the admin users file."""

from __future__ import annotations

from pathlib import Path

import bcrypt
import pytest

from podman_exporter.web.admin_guard import (
    MAX_CLIENTS,
    RateLimiter,
    cross_site_refusal,
    load_admin_users,
    same_origin,
)
from podman_exporter.web.webconfig import WebConfigError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_sliding_window() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock=clock)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")
    clock.now += 59.9
    assert not limiter.allow("a")
    clock.now += 0.2
    assert limiter.allow("a")


def test_limiter_memory_is_bounded_under_60000_spoofed_keys() -> None:
    """60,000 distinct clients (each many events) keep at most MAX_CLIENTS windows of
    at most per_minute events; the newest clients are the ones kept."""
    clock = Clock()
    limiter = RateLimiter(10, clock=clock)
    for i in range(60_000):
        for _ in range(3 if i % 100 else 30):
            limiter.hit(f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}")
        clock.now += 0.0001
    assert len(limiter) == MAX_CLIENTS
    assert max(len(events) for events in limiter._events.values()) <= 10
    assert sum(len(events) for events in limiter._events.values()) <= MAX_CLIENTS * 10
    assert limiter.count("10.0.234.95") == 3  # client 59,999 is remembered
    assert limiter.count("10.0.0.1") == 0  # the first ones were forgotten
    clock.now += 61
    assert limiter.count("x") == 0
    assert len(limiter) == 0  # windows older than a minute are dropped


def test_failure_windows_expire() -> None:
    clock = Clock()
    limiter = RateLimiter(2, clock=clock)
    limiter.hit("a")
    clock.now += 30
    limiter.hit("b")
    clock.now += 31
    assert limiter.count("b") == 1 and len(limiter) == 1


def scope(headers: dict[str, str], scheme: str = "http") -> dict[str, object]:
    return {"scheme": scheme, "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}


@pytest.mark.parametrize(("origin", "host", "scheme", "same"), [
    ("http://127.0.0.1:9883", "127.0.0.1:9883", "http", True),
    ("http://localhost", "LOCALHOST:80", "http", True),
    ("https://h", "h:443", "https", True),
    ("http://[::1]:9883", "[::1]:9883", "http", True),
    ("http://h:9883", "h:9883", "https", False),
    ("http://h:9882", "h:9883", "http", False),
    ("http://evil", "h:9883", "http", False),
    ("null", "h", "http", False),
    ("http://h:9883/x", "h:9883", "http", False),
    ("http://user@h:9883", "h:9883", "http", False),
    ("http://h:99999", "h:99999", "http", False),
    ("", "h", "http", False),
])
def test_same_origin(origin: str, host: str, scheme: str, same: bool) -> None:
    assert same_origin(origin, scope({"host": host}, scheme)) is same


def test_cross_site_refusal() -> None:
    assert cross_site_refusal(scope({"host": "h"})) is None
    assert cross_site_refusal(scope({"host": "h", "content-length": "0"})) is None
    assert cross_site_refusal(scope({"host": "h", "content-type": "text/plain"})) is not None
    assert cross_site_refusal(scope({"host": "h", "transfer-encoding": "chunked"})) is not None
    assert cross_site_refusal(scope({"host": "h", "sec-fetch-site": "Cross-Site"})) is not None
    assert cross_site_refusal(scope({"host": "h", "origin": "http://h"})) is None


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "admin-users.yml"
    path.write_text(text)
    return str(path)


def test_admin_users_file(tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    assert dict(load_admin_users(write(tmp_path, f"basic_auth_users:\n  ops: {hashed}\n"))) == {
        "ops": hashed}
    with pytest.raises(WebConfigError, match="no admin user"):
        load_admin_users(write(tmp_path, "basic_auth_users: {}\n"))
    with pytest.raises(WebConfigError, match="basic_auth_users only"):
        load_admin_users(write(tmp_path, "http_server_config:\n  headers:\n"
                                         "    X-Frame-Options: deny\n"
                                         f"basic_auth_users:\n  ops: {hashed}\n"))
    with pytest.raises(WebConfigError, match="not a bcrypt hash"):
        load_admin_users(write(tmp_path, "basic_auth_users:\n  ops: plaintext\n"))
    with pytest.raises(WebConfigError, match=r"admin_users"):
        load_admin_users(write(tmp_path, f"admin_users:\n  ops: {hashed}\n"))
