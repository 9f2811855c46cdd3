"""Basic auth and response header middleware, driven through the ASGI interface."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import bcrypt
import pytest

from podman_exporter.web.auth import (
    BasicAuthMiddleware,
    CredentialChecker,
    ResponseHeadersMiddleware,
    apply_web_config,
    authenticated_user,
    parse_basic_authorization,
)
from podman_exporter.web.webconfig import HTTPServerConfig, WebConfig

USERS = {
    "alice": bcrypt.hashpw(b"wonderland", bcrypt.gensalt(rounds=4)).decode(),
    "bob": bcrypt.hashpw(b"builder", bcrypt.gensalt(rounds=5)).decode(),
}


async def echo_user(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A tiny app answering 200 with the authenticated user (or '-') as the body."""
    body = (authenticated_user(scope) or "-").encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-app", b"1")]})
    await send({"type": "http.response.body", "body": body})


def basic(user: str, password: str) -> bytes:
    """Return an Authorization header value."""
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


def call(
    app: Any, path: str = "/metrics", authorization: bytes | None = None
) -> tuple[int, dict[bytes, bytes], bytes]:
    """Run one HTTP request through ``app``; return status, headers and body."""
    headers = [(b"authorization", authorization)] if authorization is not None else []
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "headers": headers,
        "client": ("127.0.0.1", 1),
    }
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    asyncio.run(app(scope, receive, send))
    start, body = messages[0], messages[1]
    return start["status"], dict(start["headers"]), body["body"]


def test_missing_wrong_and_right_credentials() -> None:
    app = BasicAuthMiddleware(echo_user, USERS)
    status, headers, _ = call(app)
    assert (status, headers[b"www-authenticate"]) == (401, b"Basic")
    assert call(app, authorization=basic("alice", "wrong"))[0] == 401
    assert call(app, authorization=basic("carol", "wonderland"))[0] == 401
    assert call(app, authorization=basic("alice", "builder"))[0] == 401  # bob's password
    assert call(app, authorization=b"Bearer abc")[0] == 401
    assert call(app, authorization=b"Basic !!notbase64")[0] == 401
    assert call(app, authorization=b"Basic " + base64.b64encode(b"no-colon"))[0] == 401
    assert call(app, authorization=basic("alice", "wonderland")) == (
        200,
        {b"x-app": b"1"},
        b"alice",
    )
    assert call(app, authorization=basic("bob", "builder"))[2] == b"bob"


def test_scheme_is_case_insensitive_and_password_may_hold_colons() -> None:
    users = {"u": bcrypt.hashpw(b"a:b:c", bcrypt.gensalt(rounds=4)).decode()}
    app = BasicAuthMiddleware(echo_user, users)
    header = b"basic " + base64.b64encode(b"u:a:b:c")
    assert call(app, authorization=header)[:1] == (200,)


def test_healthz_is_exempt_and_others_are_not() -> None:
    app = BasicAuthMiddleware(echo_user, USERS)
    assert call(app, path="/healthz") == (200, {b"x-app": b"1"}, b"-")
    assert call(app, path="/healthz/")[0] == 401
    assert call(app, path="/")[0] == 401
    custom = BasicAuthMiddleware(echo_user, USERS, exempt_paths=frozenset({"/readyz"}))
    assert call(custom, path="/readyz")[0] == 200
    assert call(custom, path="/healthz")[0] == 401


def test_bcrypt_runs_once_per_credential() -> None:
    app = BasicAuthMiddleware(echo_user, USERS)
    for _ in range(5):
        assert call(app, authorization=basic("alice", "wonderland"))[0] == 200
    assert app.checker.bcrypt_checks == 1
    for _ in range(3):
        assert call(app, authorization=basic("alice", "nope"))[0] == 401
    assert app.checker.bcrypt_checks == 2  # a failure is cached too


def test_unknown_user_still_costs_a_bcrypt_check() -> None:
    app = BasicAuthMiddleware(echo_user, USERS)
    call(app, authorization=basic("mallory", "x"))
    call(app, authorization=basic("trent", "x"))
    assert app.checker.bcrypt_checks == 2


def test_dummy_hash_has_the_cost_of_the_slowest_user() -> None:
    checker = CredentialChecker(USERS)
    assert checker._dummy.split(b"$")[2] == b"05"


def test_cache_is_bounded() -> None:
    app = BasicAuthMiddleware(echo_user, USERS, cache_size=3)
    for attempt in range(10):
        call(app, authorization=basic("alice", f"guess{attempt}"))
    assert len(app.checker._cache) == 3
    assert all(len(key) == 32 for key in app.checker._cache)  # digests, not passwords
    call(app, authorization=basic("alice", "guess0"))  # evicted: checked again
    assert app.checker.bcrypt_checks == 11


def test_concurrent_requests_with_same_credentials_share_one_check() -> None:
    checker = CredentialChecker(USERS)

    async def many() -> list[str | None]:
        return await asyncio.gather(*(checker.check(b"bob", b"builder") for _ in range(8)))

    assert asyncio.run(many()) == ["bob"] * 8
    assert checker.bcrypt_checks == 1


def test_overlong_password_is_compared_on_72_bytes_like_go() -> None:
    password = b"p" * 80
    users = {"u": bcrypt.hashpw(password[:72], bcrypt.gensalt(rounds=4)).decode()}
    checker = CredentialChecker(users)
    assert asyncio.run(checker.check(b"u", password)) == "u"


def test_parse_basic_authorization() -> None:
    scope = {"headers": [(b"Authorization", basic("a", "b:c"))]}
    assert parse_basic_authorization(scope) == (b"a", b"b:c")
    assert parse_basic_authorization({"headers": []}) is None


def test_a_checker_can_be_shared_between_guards() -> None:
    checker = CredentialChecker(USERS)
    first = BasicAuthMiddleware(echo_user, checker)
    second = BasicAuthMiddleware(echo_user, checker, exempt_paths=frozenset())
    assert call(first, authorization=basic("bob", "builder"))[0] == 200
    assert call(second, authorization=basic("bob", "builder"))[0] == 200
    assert call(second, path="/healthz")[0] == 401
    assert checker.bcrypt_checks == 1


def test_empty_user_list_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one user"):
        BasicAuthMiddleware(echo_user, {})


def test_response_headers_are_added_but_do_not_override_the_app() -> None:
    app = ResponseHeadersMiddleware(echo_user, [("X-Frame-Options", "deny"), ("X-App", "0")])
    _, headers, _ = call(app)
    assert headers[b"x-frame-options"] == b"deny"
    assert headers[b"x-app"] == b"1"


def test_apply_web_config_puts_headers_on_401_too() -> None:
    config = WebConfig(
        path="web.yml",
        http_server_config=HTTPServerConfig(headers=(("X-Content-Type-Options", "nosniff"),)),
        basic_auth_users=USERS,
    )
    app = apply_web_config(echo_user, config)
    status, headers, _ = call(app)
    assert (status, headers[b"x-content-type-options"]) == (401, b"nosniff")
    assert call(app, authorization=basic("alice", "wonderland"))[0] == 200


def test_apply_web_config_without_users_or_headers_is_the_app() -> None:
    assert apply_web_config(echo_user, WebConfig(path="web.yml")) is echo_user


def test_mixed_costs_cost_the_same_bcrypt_work_for_every_user() -> None:
    """A cost-4 user, a cost-5 user and an unknown user each cost one bcrypt run at
    every configured cost, counted (no clock involved)."""
    checker = CredentialChecker(USERS)
    spent = []
    for user, password in ((b"alice", b"x"), (b"bob", b"x"), (b"mallory", b"x"),
                           (b"alice", b"wonderland"), (b"bob", b"builder"), (b"", b"")):
        before = checker.bcrypt_costs.copy()
        asyncio.run(checker.check(user, password))
        spent.append(checker.bcrypt_costs - before)
    assert spent == [{4: 1, 5: 1}] * 6
    assert asyncio.run(checker.check(b"alice", b"wonderland")) == "alice"  # cached
    assert asyncio.run(checker.check(b"bob", b"builder")) == "bob"


def test_single_cost_runs_bcrypt_once_per_check() -> None:
    checker = CredentialChecker({"alice": USERS["alice"]})
    asyncio.run(checker.check(b"alice", b"x"))
    asyncio.run(checker.check(b"nobody", b"x"))
    assert checker.bcrypt_costs == {4: 2}


def test_verified_never_runs_bcrypt() -> None:
    checker = CredentialChecker(USERS)
    assert checker.verified(b"alice", b"wonderland") is None  # not verified yet
    assert checker.bcrypt_checks == 0
    assert asyncio.run(checker.check(b"alice", b"wonderland")) == "alice"
    assert checker.verified(b"alice", b"wonderland") == "alice"
    asyncio.run(checker.check(b"alice", b"nope"))
    assert checker.verified(b"alice", b"nope") is None  # a cached failure is no proof
    assert checker.verified_scope({"headers": [(b"authorization", basic("alice", "wonderland"))]}
                                  ) == "alice"
    assert checker.bcrypt_checks == 2


def test_failures_never_evict_a_verified_credential() -> None:
    app = BasicAuthMiddleware(echo_user, USERS, cache_size=3)
    assert call(app, authorization=basic("bob", "builder"))[0] == 200
    for attempt in range(50):  # a flood of wrong passwords
        assert call(app, authorization=basic("bob", f"guess{attempt}"))[0] == 401
    checks = app.checker.bcrypt_checks
    assert call(app, authorization=basic("bob", "builder"))[0] == 200
    assert app.checker.bcrypt_checks == checks  # answered from the cache of successes


def test_a_flood_is_refused_at_once_past_the_pending_limit() -> None:
    checker = CredentialChecker(USERS, max_pending=2)

    async def flood() -> tuple[list[str | None], str | None]:
        guesses = [checker.check(b"bob", f"guess{i}".encode()) for i in range(10)]
        results = await asyncio.gather(*guesses)
        return list(results), await checker.check(b"bob", b"builder")

    results, after = asyncio.run(flood())
    assert results == [None] * 10
    assert checker.busy_refusals == 8  # 8 never queued
    assert checker.bcrypt_checks == 3  # 2 guesses, then the real password
    assert after == "bob"  # once the flood has drained, a new check runs again
