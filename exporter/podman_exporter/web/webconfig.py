"""The prometheus/exporter-toolkit web config file (``--web.config.file``).

One file works for this exporter and for the Go exporters (node_exporter, ...)::

    tls_server_config:
      cert_file: server.crt          # relative paths are relative to this file
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert
      client_ca_file: clients-ca.crt
      min_version: TLS12
    http_server_config:
      headers:
        X-Frame-Options: deny
    basic_auth_users:
      prometheus: $2b$12$...         # bcrypt hash (python -c 'import bcrypt; ...')

Parsing is strict like the toolkit's ``yaml.UnmarshalStrict``: unknown keys, duplicate
keys and wrongly typed values are errors. Every problem raises :class:`WebConfigError`
whose ``str()`` is one line naming the file and the field.

How the TLS fields map onto Python's ``ssl`` module, and what is refused or ignored,
is listed in ``web/tls.py``. Keys newer than Prometheus 2.42's toolkit (``rate_limit``,
inline ``cert``/``key``/``client_ca``, ``client_allowed_sans``) are rejected as unknown,
as ``promtool`` 2.42 does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import yaml

from podman_exporter.web.strict_yaml import Reader, StrictLoader, kind
from podman_exporter.web.tls import (
    CIPHER_SUITES,
    CURVES,
    ClientAuth,
    TLSServerConfig,
    TLSVersionName,
    WebConfigError,
    build_ssl_context,
)

__all__ = [
    "ALLOWED_HEADERS",
    "CIPHER_SUITES",
    "CURVES",
    "ClientAuth",
    "HTTPServerConfig",
    "TLSServerConfig",
    "TLSVersionName",
    "WebConfig",
    "WebConfigError",
    "load_web_config",
    "parse_web_config",
]

# Headers the toolkit lets a web config add, with their allowed values (None = any).
ALLOWED_HEADERS: Mapping[str, tuple[str, ...] | None] = MappingProxyType(
    {
        "Strict-Transport-Security": None,
        "X-Content-Type-Options": ("nosniff",),
        "X-Frame-Options": ("deny", "sameorigin"),
        "X-XSS-Protection": None,
        "Content-Security-Policy": None,
    }
)
# The bcrypt hash format (modular crypt, 22 salt + 31 hash chars); cost is checked apart.
_BCRYPT = re.compile(r"\$2[aby]?\$(\d\d)\$[./A-Za-z0-9]{53}")


@dataclass(frozen=True, slots=True)
class HTTPServerConfig:
    """``http_server_config``: extra response headers (validated) and the http2 flag."""

    headers: tuple[tuple[str, str], ...] = ()
    http2: bool = True


@dataclass(frozen=True, slots=True)
class WebConfig:
    """A whole web config file; ``tls_server_config`` is None when TLS is off."""

    path: str
    tls_server_config: TLSServerConfig | None = None
    http_server_config: HTTPServerConfig = HTTPServerConfig()
    basic_auth_users: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), repr=False
    )

    @property
    def tls_enabled(self) -> bool:
        """Return True when the server must speak TLS."""
        return self.tls_server_config is not None

    @property
    def basic_auth_enabled(self) -> bool:
        """Return True when basic auth guards the routes."""
        return bool(self.basic_auth_users)


_TOP_KEYS = frozenset({"tls_server_config", "http_server_config", "basic_auth_users"})
_TLS_KEYS = frozenset(
    {
        "cert_file",
        "key_file",
        "client_auth_type",
        "client_ca_file",
        "min_version",
        "max_version",
        "cipher_suites",
        "curve_preferences",
        "prefer_server_cipher_suites",
    }
)
_HTTP_KEYS = frozenset({"headers", "http2"})


def _tls(source: str, raw: Any) -> TLSServerConfig | None:
    """Return the TLS section, or None when it sets none of the fields that enable TLS."""
    reader = Reader(source, "tls_server_config", raw, _TLS_KEYS)
    base = os.path.dirname(os.path.abspath(source))
    cert, key = reader.string("cert_file"), reader.string("key_file")
    client_ca, auth_text = reader.string("client_ca_file"), reader.string("client_auth_type")
    if not (cert or key or client_ca or auth_text):
        return None  # the toolkit serves plain HTTP then
    if auth_text == "RequireClientCert":  # the toolkit's old alias
        reader.data["client_auth_type"] = ClientAuth.REQUIRE_ANY_CLIENT_CERT.value
    auth = reader.choice("client_auth_type", ClientAuth, ClientAuth.NO_CLIENT_CERT)
    if not cert:
        raise reader.error("cert_file", "missing (required when TLS is configured)")
    if not key:
        raise reader.error("key_file", "missing (required when cert_file is set)")
    if auth is ClientAuth.REQUIRE_ANY_CLIENT_CERT:
        raise reader.error(
            "client_auth_type",
            "RequireAnyClientCert is not supported (OpenSSL cannot require a client "
            "certificate without verifying it): use RequireAndVerifyClientCert with client_ca_file",
        )
    if client_ca and auth is ClientAuth.NO_CLIENT_CERT:
        raise reader.error("client_ca_file", "set without a client_auth_type that uses it")
    verifying = auth in (
        ClientAuth.VERIFY_CLIENT_CERT_IF_GIVEN,
        ClientAuth.REQUIRE_AND_VERIFY_CLIENT_CERT,
    )
    if verifying and not client_ca:
        raise reader.error("client_ca_file", f"required when client_auth_type is {auth.value}")
    low = reader.choice("min_version", TLSVersionName, TLSVersionName.TLS12)
    high = reader.choice("max_version", TLSVersionName, TLSVersionName.TLS13)
    if low > high:  # the names sort in version order
        raise reader.error("min_version", f"{low.value} is above max_version {high.value}")
    ciphers = reader.strings("cipher_suites")
    for cipher in ciphers:
        if cipher not in CIPHER_SUITES:
            raise reader.error("cipher_suites", f"unknown cipher {cipher!r}")
    curves = reader.strings("curve_preferences")
    for curve in curves:
        if curve not in CURVES:
            raise reader.error("curve_preferences", f"unknown curve {curve!r}")
    return TLSServerConfig(
        cert_file=os.path.join(base, cert),
        key_file=os.path.join(base, key),
        client_auth_type=auth,
        client_ca_file=os.path.join(base, client_ca) if client_ca else None,
        min_version=low,
        max_version=high,
        cipher_suites=ciphers,
        curve_preferences=curves,
        prefer_server_cipher_suites=reader.boolean("prefer_server_cipher_suites", True),
        source=source,
    )


def _http(source: str, raw: Any) -> HTTPServerConfig:
    """Return the HTTP section with its headers checked against the toolkit's allow-list."""
    reader = Reader(source, "http_server_config", raw, _HTTP_KEYS)
    raw_headers = reader.data.get("headers") or {}
    if not isinstance(raw_headers, dict):
        raise reader.error("headers", f"must be a mapping, not {kind(raw_headers)}")
    headers: list[tuple[str, str]] = []
    for name, value in raw_headers.items():
        where = f"headers.{name}"
        if name not in ALLOWED_HEADERS:
            allowed = ", ".join(ALLOWED_HEADERS)
            raise reader.error(where, f"this header can not be configured (allowed: {allowed})")
        if not isinstance(value, str) or "\r" in value or "\n" in value:
            raise reader.error(where, "must be a single-line string")
        choices = ALLOWED_HEADERS[name]
        if choices is not None and value not in choices:
            raise reader.error(where, f"invalid value {value!r} (expected {' or '.join(choices)})")
        headers.append((name, value))
    return HTTPServerConfig(headers=tuple(headers), http2=reader.boolean("http2", True))


def _users(source: str, raw: Any) -> Mapping[str, str]:
    """Return user name -> bcrypt hash, every hash checked for format and cost."""
    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, dict):
        raise WebConfigError(source, "basic_auth_users", f"must be a mapping, not {kind(raw)}")
    users: dict[str, str] = {}
    for name, hashed in raw.items():
        if isinstance(name, bool) or not isinstance(name, str | int):
            raise WebConfigError(source, "basic_auth_users", f"user name {name!r} is not a string")
        where = f"basic_auth_users.{name}"
        match = _BCRYPT.fullmatch(hashed) if isinstance(hashed, str) else None
        if match is None:  # never echo the value: it may be a plain password
            raise WebConfigError(source, where, "is not a bcrypt hash ($2a$/$2b$/$2y$...)")
        if not 4 <= int(match.group(1)) <= 31:
            raise WebConfigError(source, where, "bcrypt cost must be between 4 and 31")
        users[str(name)] = hashed
    return MappingProxyType(users)


def parse_web_config(text: str, source: str) -> WebConfig:
    """Return the WebConfig parsed from YAML ``text`` (files named in it are not read).

    ``source`` is the file name used in messages and the base of relative paths.
    """
    try:
        raw = yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise WebConfigError(source, where, f"invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise WebConfigError(source, "", f"invalid YAML: {exc}") from None
    top = Reader(source, "", raw, _TOP_KEYS)
    return WebConfig(
        path=source,
        tls_server_config=_tls(source, top.data.get("tls_server_config")),
        http_server_config=_http(source, top.data.get("http_server_config")),
        basic_auth_users=_users(source, top.data.get("basic_auth_users")),
    )


def load_web_config(path: str) -> WebConfig:
    """Return the WebConfig of the file at ``path``, with its certificates and keys loaded once.

    Raises WebConfigError (one line naming the file and the field) for any problem,
    including unreadable or mismatched certificate files, like ``promtool check web-config``.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise WebConfigError(path, "", f"cannot read: {exc}") from None
    config = parse_web_config(text, path)
    if config.tls_server_config is not None:
        build_ssl_context(config.tls_server_config)
    return config
