"""What stands in front of an admin action: its own credentials, bounded per-client
limits, and the refusal of cross-site requests.

- Admin credentials never come from the web config's ``basic_auth_users`` (the scrape
  users): only the bearer token file and the admin users file (``--admin.users-file``,
  a file in the web config format holding nothing but ``basic_auth_users``).
- :class:`RateLimiter` keeps at most ``max_clients`` sliding one-minute windows of at most
  ``per_minute`` events each: memory is bounded whatever the number of clients.
- :func:`cross_site_refusal` refuses what a browser could send from another site with
  cached Basic credentials: a foreign ``Origin``, ``Sec-Fetch-Site: cross-site`` or
  ``same-site``, and a body of a "simple request" content type.
- :func:`read_token` reads the bearer token file and refuses a file others can read or
  that another user owns, and a token too short or too guessable (see
  :func:`token_weakness`).
"""

from __future__ import annotations

import math
import os
import stat
import string
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from podman_exporter.web.asgi import Scope, header
from podman_exporter.web.webconfig import WebConfigError, load_web_config

WINDOW = 60.0
MAX_CLIENTS = 4096
"""Clients tracked by one limiter; past it the least recently seen is forgotten."""
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass
class RateLimiter:
    """At most ``per_minute`` events per client in any sliding minute, for at most
    ``max_clients`` clients (least recently seen forgotten first, idle ones after a
    minute)."""

    per_minute: int
    max_clients: int = MAX_CLIENTS
    clock: Callable[[], float] = time.monotonic
    _events: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)

    def __len__(self) -> int:
        """Return how many clients are tracked."""
        return len(self._events)

    def _expire(self, now: float) -> None:
        """Forget clients whose last event is a minute old (they are first in LRU order)."""
        while self._events:
            events = next(iter(self._events.values()))
            if events and now - events[-1] < WINDOW:
                break
            self._events.popitem(last=False)

    def count(self, client: str) -> int:
        """Return the client's events in the last minute (nothing is recorded)."""
        now = self.clock()
        self._expire(now)
        events = self._events.get(client)
        if events is None:
            return 0
        while events and now - events[0] >= WINDOW:
            events.popleft()
        return len(events)

    def hit(self, client: str) -> None:
        """Record one event of the client."""
        now = self.clock()
        events = self._events.pop(client, None)
        if events is None:
            events = deque(maxlen=self.per_minute)
        events.append(now)
        self._events[client] = events  # most recently seen last
        while len(self._events) > self.max_clients:
            self._events.popitem(last=False)

    def allow(self, client: str) -> bool:
        """Return whether the client may act now (and count it if so)."""
        if self.count(client) >= self.per_minute:
            return False
        self.hit(client)
        return True


def peer(scope: Scope) -> str:
    """Return the client address of the connection (never a forwarding header)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _origin_of(scheme: str, host: str) -> tuple[str, str, int] | None:
    """Return (scheme, host, port) of ``scheme://host``, or None if it does not parse."""
    try:
        parts = urlsplit(f"{scheme}://{host}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.path or parts.query or parts.username is not None:
        return None
    return parts.scheme, parts.hostname, port if port is not None else _DEFAULT_PORTS.get(
        parts.scheme, 0)


def same_origin(origin: str, scope: Scope) -> bool:
    """Return whether an ``Origin`` value names the scheme and Host this request came to."""
    scheme, sep, rest = origin.strip().partition("://")
    theirs = _origin_of(scheme.lower(), rest) if sep else None
    ours = _origin_of(str(scope.get("scheme", "http")), header(scope, b"host"))
    return theirs is not None and theirs == ours


_SIMPLE_OK = "application/json"


def cross_site_refusal(scope: Scope) -> str | None:
    """Return why an action request must be refused as possibly cross-site, or None.

    Refused: an ``Origin`` that is not this exporter's (``null`` included);
    ``Sec-Fetch-Site: cross-site`` or ``same-site``; a body without
    ``Content-Type: application/json`` (forms and ``text/plain`` are what a page on
    another site can send without a preflight).
    """
    names = {k.lower() for k, _ in scope.get("headers", ())}
    if b"origin" in names and not same_origin(header(scope, b"origin"), scope):
        return "cross-origin request refused"
    fetch_site = header(scope, b"sec-fetch-site").strip().lower()
    if fetch_site in ("cross-site", "same-site"):
        return f"cross-site request refused (Sec-Fetch-Site: {fetch_site})"
    content_type = header(scope, b"content-type").partition(";")[0].strip().lower()
    has_body = b"transfer-encoding" in names or header(scope, b"content-length").strip() not in (
        "", "0")
    if (content_type or has_body) and content_type != _SIMPLE_OK:
        return "an action takes no body, or application/json"
    return None


def load_admin_users(path: str) -> Mapping[str, str]:
    """Return the admin users (name -> bcrypt hash) of ``--admin.users-file``.

    The file has the web config format (so ``promtool check web-config`` validates it)
    and holds ``basic_auth_users`` only. Raises WebConfigError (one line) otherwise.
    """
    config = load_web_config(path)
    if config.tls_server_config is not None or config.http_server_config.headers:
        raise WebConfigError(path, "", "an admin users file holds basic_auth_users only "
                             "(TLS and headers belong in --web.config.file)")
    if not config.basic_auth_users:
        raise WebConfigError(path, "basic_auth_users", "no admin user defined")
    return config.basic_auth_users


MIN_TOKEN_LENGTH = 16
MIN_TOKEN_BITS = 64
"""Apparent entropy a token needs: its length x log2 of the character classes it uses."""
MIN_TOKEN_DISTINCT = 8
"""Different characters a token needs (``aaaa...`` and ``abab...`` are not tokens)."""
_CLASSES = (string.digits, string.ascii_lowercase, string.ascii_uppercase, string.punctuation)


def token_weakness(token: bytes) -> str | None:
    """Return why ``token`` is not a usable admin token, or None.

    The rule: at least 16 printable ASCII characters without spaces; at least 8
    different characters; and at least 64 bits of *apparent* entropy, i.e. length x
    log2(size of the classes of characters it uses: 10 digits, 26 lower case, 26 upper
    case, 32 punctuation). So digits alone need 20 characters, lower-case hex 13 (16
    anyway), base64 11 (16 anyway). It catches mistakes, it cannot prove randomness:
    generate the token (``head -c 32 /dev/urandom | base64``).
    """
    if len(token) < MIN_TOKEN_LENGTH or any(b <= 32 or b >= 127 for b in token):
        return (f"must hold one token of at least {MIN_TOKEN_LENGTH} printable ASCII "
                "characters (no spaces)")
    distinct = len(set(token))
    if distinct < MIN_TOKEN_DISTINCT:
        return (f"token too weak: {distinct} different characters (at least "
                f"{MIN_TOKEN_DISTINCT}); use e.g. head -c 32 /dev/urandom | base64")
    text = token.decode("ascii")
    pool = sum(len(chars) for chars in _CLASSES if any(c in chars for c in text))
    bits = len(token) * math.log2(pool)
    if bits < MIN_TOKEN_BITS:
        return (f"token too weak: about {bits:.0f} bits of apparent entropy (at least "
                f"{MIN_TOKEN_BITS}: e.g. 20 digits, or 16 letters and digits); use e.g. "
                "head -c 32 /dev/urandom | base64")
    return None


def read_token(path: str, euid: int | None = None) -> bytes:
    """Return the admin bearer token in ``path``; raise ValueError (one line naming
    ``--admin.token-file``) when the file is not mode 0600-like, is owned by neither
    the exporter's user (``euid``, default the process's) nor root, or holds a weak
    token (:func:`token_weakness`)."""
    where = f"--admin.token-file: {path}"
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise ValueError(f"{where} is accessible by group or others "
                                 f"(mode {stat.filemode(info.st_mode)}); chmod 600 it")
            owner = os.geteuid() if euid is None else euid
            if info.st_uid not in (owner, 0):
                raise ValueError(f"{where} is owned by uid {info.st_uid}, neither the "
                                 f"exporter's user (uid {owner}) nor root")
            token = handle.read(4096).strip()
    except OSError as exc:
        raise ValueError(f"--admin.token-file: cannot read {path}: {exc.strerror}") from exc
    weakness = token_weakness(token)
    if weakness is not None:
        raise ValueError(f"{where}: {weakness}")
    return token
