"""Basic auth and configured response headers as ASGI middleware (exporter-toolkit style).

``apply_web_config(app, config)`` wraps an app the way a web config asks::

    ResponseHeadersMiddleware(BasicAuthMiddleware(app, users), headers)

so even a 401 carries the configured headers. The authenticated user name reaches the
app as ``scope["state"]["user"]`` (read it with :func:`authenticated_user`).

bcrypt is slow by design, so as in the toolkit each (user, password, hash) outcome is
cached (bounded, keyed by a keyed BLAKE2b digest, never the password itself) and
bcrypt runs in the checker's own worker thread one check at a time.

Response time does not reveal which users exist, even when their hashes have different
costs: every check runs bcrypt once at *each* cost in use (the user's own hash at its
cost, dummy hashes of unknowable passwords at the others; an unknown user gets dummies
only), so a known user with a cheap hash, one with an expensive hash and an unknown user
all cost the same work.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor

import bcrypt

from podman_exporter.web.asgi import ASGIApp, Message, Receive, Scope, Send
from podman_exporter.web.webconfig import WebConfig

log = logging.getLogger(__name__)

DEFAULT_EXEMPT_PATHS = frozenset({"/healthz"})
USER_STATE_KEY = "user"
_BCRYPT_MAX_PASSWORD = 72  # bcrypt (and Go's x/crypto/bcrypt) only ever use 72 bytes
_UNAUTHORIZED = b"Unauthorized\n"


def authenticated_user(scope: Scope) -> str | None:
    """Return the user name basic auth accepted for this request, or None."""
    state = scope.get("state")
    user = state.get(USER_STATE_KEY) if isinstance(state, Mapping) else None
    return user if isinstance(user, str) else None


def parse_basic_authorization(scope: Scope) -> tuple[bytes, bytes] | None:
    """Return (user, password) from the request's ``Authorization: Basic`` header, or None."""
    value = next((v for k, v in scope.get("headers", ()) if k.lower() == b"authorization"), None)
    if value is None:
        return None
    scheme, _, encoded = bytes(value).strip().partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    return (user, password) if colon else None


class CredentialChecker:
    """Checks basic-auth credentials against bcrypt hashes, caching each outcome.

    Successes and failures are cached apart, so a flood of wrong passwords can evict
    only other failures, never the scraper's verified credentials (which are answered
    from the cache, without waiting for bcrypt). At most ``max_pending`` checks wait
    for the one bcrypt thread; past that a new, unverified credential is refused at
    once rather than queued behind the flood.
    """

    def __init__(self, users: Mapping[str, str], cache_size: int = 100,
                 max_pending: int = 8) -> None:
        if not users:
            raise ValueError("basic auth needs at least one user")
        self._users = [(name.encode(), hashed.encode()) for name, hashed in users.items()]
        self._names = {name.encode(): name for name in users}
        costs = sorted({_cost(hashed.encode()) for hashed in users.values()})
        # One hash per cost in use, for passwords nobody can know: mixed costs must not
        # tell users apart by timing.
        self._dummies = {cost: bcrypt.hashpw(secrets.token_bytes(18),
                                             bcrypt.gensalt(rounds=cost)) for cost in costs}
        self._dummy = self._dummies[costs[-1]]  # an unknown user's "own" hash
        self._key = secrets.token_bytes(32)  # cache keys are useless outside this process
        self._cache: OrderedDict[bytes, None] = OrderedDict()
        """Failed checks, oldest first."""
        self._verified: OrderedDict[bytes, None] = OrderedDict()
        """Successful checks, least recently used first."""
        self._cache_size = max(1, cache_size)
        self._cache_lock = threading.Lock()
        self._pending = 0
        self._max_pending = max(1, max_pending)
        self.busy_refusals = 0  # checks refused because max_pending were waiting
        self._bcrypt_lock = threading.Lock()  # one bcrypt at a time, like the toolkit
        # Its own thread: a flood of bad logins must not tie up the loop's default executor.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bcrypt")
        self.bcrypt_checks = 0  # how many checks ran bcrypt (cache misses)
        self.bcrypt_costs: Counter[int] = Counter()  # bcrypt runs by cost

    def _lookup(self, user: bytes) -> tuple[bool, bytes]:
        """Return (known, hash) comparing the name with every user in constant time."""
        found, hashed = False, self._dummy
        for name, candidate in self._users:
            if hmac.compare_digest(name, user):
                found, hashed = True, candidate
        return found, hashed

    def _cache_key(self, user: bytes, password: bytes, hashed: bytes) -> bytes:
        """Return a keyed digest of user, password and hash (length-prefixed parts)."""
        digest = hashlib.blake2b(key=self._key, digest_size=32)
        for part in (user, password, hashed):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
        return digest.digest()

    def _cached(self, key: bytes) -> bool | None:
        """Return a cached verdict (a success counts as recently used), else None."""
        with self._cache_lock:
            if key in self._verified:
                self._verified.move_to_end(key)
                return True
            return False if key in self._cache else None

    def _remember(self, key: bytes, ok: bool) -> None:
        """Cache a verdict, evicting the oldest entry of its own kind past the size."""
        with self._cache_lock:
            cache = self._verified if ok else self._cache
            cache[key] = None
            while len(cache) > self._cache_size:
                cache.popitem(last=False)

    def _bcrypt(self, key: bytes, password: bytes, hashed: bytes) -> bool:
        """Return bcrypt's verdict, computing it at most once per cache key (worker thread)."""
        with self._bcrypt_lock:
            cached = self._cached(key)
            if cached is not None:
                return cached
            self.bcrypt_checks += 1
            ok = self._checkpw(password, hashed)
            own = _cost(hashed)
            for cost, dummy in self._dummies.items():  # the same work whoever is asked for
                if cost != own:
                    self._checkpw(password, dummy)
            self._remember(key, ok)
            return ok

    def _checkpw(self, password: bytes, hashed: bytes) -> bool:
        """Return bcrypt's verdict (False for a malformed hash), counting its cost."""
        self.bcrypt_costs[_cost(hashed)] += 1
        try:
            return bcrypt.checkpw(password[:_BCRYPT_MAX_PASSWORD], hashed)
        except ValueError:
            return False

    def verified(self, user: bytes, password: bytes) -> str | None:
        """Return the user name if these credentials were already verified (cached
        success), else None; never runs bcrypt."""
        known, hashed = self._lookup(user)
        ok = self._cached(self._cache_key(user, password, hashed))
        return self._names[user] if ok and known else None

    def verified_scope(self, scope: Scope) -> str | None:
        """Return the user a request's basic-auth header proves from the cache alone."""
        credentials = parse_basic_authorization(scope)
        return None if credentials is None else self.verified(*credentials)

    async def check(self, user: bytes, password: bytes) -> str | None:
        """Return the user name when the password matches its hash, else None."""
        known, hashed = self._lookup(user)
        key = self._cache_key(user, password, hashed)
        ok = self._cached(key)
        if ok is None:
            if self._pending >= self._max_pending:  # a flood: refuse, do not queue
                self.busy_refusals += 1
                return None
            self._pending += 1  # only the event loop's thread counts
            try:
                loop = asyncio.get_running_loop()
                ok = await loop.run_in_executor(self._executor, self._bcrypt, key, password,
                                                hashed)
            finally:
                self._pending -= 1
        return self._names[user] if ok and known else None

    async def check_scope(self, scope: Scope) -> str | None:
        """Return the user name a request's basic-auth header proves, else None."""
        credentials = parse_basic_authorization(scope)
        if credentials is None:
            return None
        return await self.check(*credentials)


def _cost(hashed: bytes) -> int:
    """Return the cost of a ``$2b$NN$...`` bcrypt hash (0 if malformed)."""
    parts = hashed.split(b"$")
    return int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0


class BasicAuthMiddleware:
    """Answers 401 with ``WWW-Authenticate: Basic`` unless the request proves a user.

    ``users`` is the web config's user -> bcrypt hash mapping, or a CredentialChecker
    to share one cache with another guard (e.g. the admin endpoint).
    """

    def __init__(
        self,
        app: ASGIApp,
        users: Mapping[str, str] | CredentialChecker,
        exempt_paths: frozenset[str] = DEFAULT_EXEMPT_PATHS,
        cache_size: int = 100,
    ) -> None:
        self.app = app
        self.exempt_paths = exempt_paths
        if isinstance(users, CredentialChecker):
            self.checker = users
        else:
            self.checker = CredentialChecker(users, cache_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass authenticated or exempt requests on; answer 401 to the rest."""
        if scope["type"] not in ("http", "websocket") or scope.get("path") in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        user = await self.checker.check_scope(scope)
        if user is None:
            client = scope.get("client")
            log.debug("basic auth refused a request from %s", client[0] if client else "?")
            await _refuse(scope, send)
            return
        scope = dict(scope)
        scope["state"] = {**scope.get("state", {}), USER_STATE_KEY: user}
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, send: Send) -> None:
    """Send the 401 answer (or close a websocket with policy violation)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(_UNAUTHORIZED)).encode()),
                (b"www-authenticate", b"Basic"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _UNAUTHORIZED})


class ResponseHeadersMiddleware:
    """Adds fixed headers to every HTTP response that does not already set them."""

    def __init__(self, app: ASGIApp, headers: Iterable[tuple[str, str]]) -> None:
        self.app = app
        self.headers = [(name.lower().encode(), value.encode()) for name, value in headers]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, adding the headers to its ``http.response.start`` message."""
        if scope["type"] != "http" or not self.headers:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {bytes(name).lower() for name, _ in message.get("headers", ())}
                extra = [(n, v) for n, v in self.headers if n not in present]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def apply_web_config(
    app: ASGIApp, config: WebConfig, exempt_paths: frozenset[str] = DEFAULT_EXEMPT_PATHS
) -> ASGIApp:
    """Return ``app`` wrapped with the config's basic auth and response headers (if any)."""
    wrapped = app
    if config.basic_auth_users:
        wrapped = BasicAuthMiddleware(wrapped, config.basic_auth_users, exempt_paths)
    if config.http_server_config.headers:
        wrapped = ResponseHeadersMiddleware(wrapped, config.http_server_config.headers)
    return wrapped
