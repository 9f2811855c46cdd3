"""The admin endpoint: authenticated maintenance actions on Podman, answered in JSON.

Enabled only by its own credentials (``--admin.token-file`` and/or
``--admin.users-file``; never the web config's scrape users) and served only on its
own listener. Failed authentications are limited per client (a client past the limit
is answered 429 without its credentials being tried, except the token and credentials
already verified); authenticated actions have their own per-client rate limit.
Cross-site requests are refused. Actions are serialised (two prunes never race),
logged with who asked, counted, and followed by a collection so the metrics show the
change. The client is always the connection's peer address.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from podman_exporter.podman.backend import (
    NotFound,
    PodmanBackend,
    PodmanError,
    PodmanUnavailable,
    Unsupported,
)
from podman_exporter.web.admin_actions import ACTIONS, Action, BadRequest, Call
from podman_exporter.web.admin_guard import RateLimiter, cross_site_refusal, peer
from podman_exporter.web.asgi import Receive, Scope, Send, header, respond
from podman_exporter.web.auth import CredentialChecker

log = logging.getLogger(__name__)

JSON = "application/json"
_BEARER = re.compile(r"^Bearer\s+(\S+)\s*$", re.IGNORECASE)
_CHALLENGE = ((b"www-authenticate", b'Bearer realm="podman-exporter admin"'),
              (b"www-authenticate", b'Basic realm="podman-exporter admin"'))


@dataclass(frozen=True, slots=True)
class AdminTarget:
    """One Podman endpoint admin actions can act on."""

    backend: Callable[[], PodmanBackend]
    on_action: Callable[[str, str], None]
    """Called with (action, result) after every attempted action."""
    after_success: Callable[[], None]
    """Called after a successful (not dry-run) action: triggers a collection."""


ENDPOINT_PARAM = "endpoint"
"""The query parameter naming the endpoint an action acts on (needed when there are
several)."""


@dataclass
class AdminApp:
    """ASGI app for every path under /admin."""

    targets: Callable[[], Mapping[str, AdminTarget]]
    """Return the endpoints actions can act on, by name."""
    token: bytes | None = None
    users: CredentialChecker | None = None
    rate_limit: int = 10
    """Authenticated actions per minute per client."""
    failure_limit: int = 10
    """Failed authentications per minute per client before it is answered 429."""
    limiter: RateLimiter = field(init=False)
    failures: RateLimiter = field(init=False)
    _serial: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.rate_limit)
        self.failures = RateLimiter(self.failure_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        if path in ("/admin", "/admin/"):
            if method not in ("GET", "HEAD"):
                await _json(send, 405, {"error": "method not allowed"}, allow=b"GET, HEAD")
                return
            if await self._authenticate(scope, send, None) is None:
                return
            await _json(send, 200, {"actions": [a.describe() for a in ACTIONS],
                                    "endpoints": sorted(self.targets())},
                        head=method == "HEAD")
            return
        matched = [(a, m) for a in ACTIONS if (m := a.route.fullmatch(path))]
        if not matched:
            await _json(send, 404, {"error": "no such admin route"})
            return
        allowed = [a for a, _ in matched if a.method == method]
        if not allowed:
            methods = ", ".join(sorted({a.method for a, _ in matched}))
            await _json(send, 405, {"error": "method not allowed"}, allow=methods.encode())
            return
        action = allowed[0]
        client = peer(scope)
        refusal = cross_site_refusal(scope)
        if refusal is not None:
            log.warning("admin %s refused from %s: %s", action.name, client, refusal)
            await _json(send, 403, {"action": action.name, "error": refusal})
            return
        who = await self._authenticate(scope, send, action.name)
        if who is None:
            return
        if not self.limiter.allow(client):
            await _json(send, 429, {"action": action.name, "error": "rate limit exceeded"},
                        retry_after=True)
            return
        match = next(m for a, m in matched if a is action)
        status, body = await self._run(action, match.groupdict(), scope, who, client)
        await _json(send, status, body)

    async def _authenticate(self, scope: Scope, send: Send, action: str | None) -> str | None:
        """Return who the request proves to be, or answer 401 (429 past the failure
        limit) and return None.

        A client past the failure limit gets no new credentials tried (no guessing);
        the token and credentials verified before still work (no lockout).
        """
        client = peer(scope)
        blocked = self.failures.count(client) >= self.failure_limit
        who = await self._who(scope, verified_only=blocked)
        if who is not None:
            return who
        body: dict[str, object] = {"error": "unauthorized"}
        if action is not None:
            body["action"] = action
        if blocked:
            log.debug("admin %s refused: %s is past the failure limit", action or "listing",
                      client)  # debug: a flood must not flood the log too
            await _json(send, 429, {**body, "error": "too many failed authentications"},
                        retry_after=True)
            return None
        self.failures.hit(client)
        log.warning("admin %s refused: bad or missing credentials from %s", action or "listing",
                    client)
        # No Basic challenge without admin users: a browser would prompt and cache
        # credentials for nothing.
        await _json(send, 401, body,
                    challenge=_CHALLENGE if self.users is not None else _CHALLENGE[:1])
        return None

    async def _who(self, scope: Scope, *, verified_only: bool = False) -> str | None:
        """Return who the request proves to be ("token" or a user name), or None.

        ``verified_only``: only the token and basic credentials already verified
        (bcrypt is not run for new ones).
        """
        authorization = header(scope, b"authorization")
        bearer = _BEARER.match(authorization)
        if bearer and self.token is not None:
            return "token" if hmac.compare_digest(bearer.group(1).encode(), self.token) else None
        if self.users is not None:
            if verified_only:
                return self.users.verified_scope(scope)
            return await self.users.check_scope(scope)
        return None

    def _target(self, pairs: list[tuple[str, str]]) -> tuple[str, AdminTarget]:
        """Return the endpoint the query names (``endpoint=NAME``), or the only one;
        raise BadRequest when several exist and none or an unknown one is named."""
        targets = self.targets()
        named = [v for k, v in pairs if k == ENDPOINT_PARAM]
        if len(named) > 1:
            raise BadRequest("endpoint is given more than once")
        if not named and len(targets) == 1:
            return next(iter(targets.items()))
        if not named:
            raise BadRequest("several Podman endpoints: name one with ?endpoint= ("
                             + ", ".join(sorted(targets)) + ")")
        if named[0] not in targets:
            raise BadRequest(f"no endpoint {named[0]!r} (there are: "
                             + ", ".join(sorted(targets)) + ")")
        return named[0], targets[named[0]]

    async def _run(self, action: Action, params: Mapping[str, str], scope: Scope, who: str,
                   client: str) -> tuple[int, dict[str, object]]:
        query = scope.get("query_string", b"").decode("latin-1")
        pairs = parse_qsl(query, keep_blank_values=True)
        rest = [(k, v) for k, v in pairs if k != ENDPOINT_PARAM]
        try:
            endpoint, target = self._target(pairs)
            call = action.parse(params, dict(rest), strict_keys=rest)
        except BadRequest as exc:
            return 400, {"action": action.name, "error": str(exc)}
        async with self._serial:
            status, body, result = await asyncio.to_thread(self._execute, action, call,
                                                           target.backend)
        body["endpoint"] = endpoint
        log.info("admin action", extra={"action": action.name, "who": who, "client": client,
                                        "endpoint": endpoint, "target": call.target,
                                        "result": result, "dry_run": call.dry_run})
        target.on_action(action.name, result)
        if result == "success" and not call.dry_run:
            target.after_success()
        return status, body

    @staticmethod
    def _execute(action: Action, call: Call, backend: Callable[[], PodmanBackend]
                 ) -> tuple[int, dict[str, object], str]:
        body: dict[str, object] = {"action": action.name}
        if call.dry_run:
            body["dry_run"] = True
        try:
            body["ids"] = action.perform(backend(), call)
        except NotFound as exc:
            return 404, {**body, "error": str(exc)}, "not_found"
        except PodmanUnavailable as exc:
            return 503, {**body, "error": f"Podman unreachable: {exc}"}, "unavailable"
        except Unsupported as exc:
            return 501, {**body, "error": str(exc)}, "unsupported"
        except PodmanError as exc:
            return 409, {**body, "error": f"Podman refused: {exc}"}, "refused"
        return 200, body, "success"


async def _json(send: Send, status: int, body: Mapping[str, object], *, allow: bytes = b"",
                challenge: tuple[tuple[bytes, bytes], ...] = (), retry_after: bool = False,
                head: bool = False) -> None:
    headers: list[tuple[bytes, bytes]] = [(b"cache-control", b"no-store")]
    if allow:
        headers.append((b"allow", allow))
    headers.extend(challenge)
    if retry_after:
        headers.append((b"retry-after", b"60"))
    data = (json.dumps(body, sort_keys=True) + "\n").encode()
    await respond(send, status, data, JSON, headers=tuple(headers), head=head)
