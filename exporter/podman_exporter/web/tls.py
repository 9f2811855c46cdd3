"""Server-side ``ssl.SSLContext`` from a web config's ``tls_server_config``.

The context is meant for uvicorn; the supported hook in uvicorn >= 0.54 is::

    uvicorn.Config(app, ..., ssl_context_factory=lambda _config, _default: context)

(setting ``config.ssl`` after ``config.load()`` also works: ``Server.startup`` only
calls ``load()`` when ``config.loaded`` is false and then passes ``config.ssl`` to
``loop.create_server``). uvicorn serves HTTP/1.1 here, so ALPN offers ``http/1.1`` only.

Where Python's ``ssl`` module differs from Go's ``crypto/tls``:

- ``RequireAnyClientCert`` (and its old alias ``RequireClientCert``) is rejected: OpenSSL
  cannot require a client certificate without verifying it.
- ``RequestClientCert`` asks for nothing: Go requests a certificate but never verifies or
  uses it, so access is the same as ``NoClientCert``.
- ``RequireAndVerifyClientCert`` / ``VerifyClientCertIfGiven`` need ``client_ca_file``
  (Go would silently trust the system CAs, i.e. any publicly issued certificate).
- ``min_version`` above ``max_version`` is rejected (Go only fails at handshake time).
- ``cipher_suites`` apply to TLS 1.2 and below (TLS 1.3 names are accepted and ignored,
  as in Go); ``curve_preferences`` is validated but not applied (Python 3.11's ``ssl``
  cannot set a group list), ``http_server_config.http2`` is accepted and ignored
  (uvicorn serves HTTP/1.1). The certificate and key are re-read on reload (SIGHUP or
  a change of their files: ``web/reload.py``, which calls ``load_cert_chain`` on the
  running context); the other settings and ``client_ca_file`` are read at start.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

log = logging.getLogger(__name__)


class WebConfigError(ValueError):
    """An invalid web config file; ``str()`` is one line naming the file and the field."""

    def __init__(self, source: str, where: str, problem: str) -> None:
        self.source, self.where, self.problem = source, where, problem
        text = f"web config {source}: {where + ': ' if where else ''}{problem}"
        super().__init__(" ".join(text.split()))


class ClientAuth(StrEnum):
    """The toolkit's ``client_auth_type`` values."""

    NO_CLIENT_CERT = "NoClientCert"
    REQUEST_CLIENT_CERT = "RequestClientCert"
    REQUIRE_ANY_CLIENT_CERT = "RequireAnyClientCert"
    VERIFY_CLIENT_CERT_IF_GIVEN = "VerifyClientCertIfGiven"
    REQUIRE_AND_VERIFY_CLIENT_CERT = "RequireAndVerifyClientCert"


class TLSVersionName(StrEnum):
    """The toolkit's ``min_version`` / ``max_version`` values."""

    TLS10 = "TLS10"
    TLS11 = "TLS11"
    TLS12 = "TLS12"
    TLS13 = "TLS13"


# Go's tls.CipherSuites() names -> OpenSSL names; None marks TLS 1.3 suites, which Go
# accepts in the list but does not let a config change (so they are ignored here too).
CIPHER_SUITES: Mapping[str, str | None] = MappingProxyType(
    {
        "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
        "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
        "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
        "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_AES_128_GCM_SHA256": None,
        "TLS_AES_256_GCM_SHA384": None,
        "TLS_CHACHA20_POLY1305_SHA256": None,
    }
)
CURVES = frozenset({"CurveP256", "CurveP384", "CurveP521", "X25519"})


@dataclass(frozen=True, slots=True)
class TLSServerConfig:
    """``tls_server_config``: file paths are absolute (resolved against the config file)."""

    cert_file: str
    key_file: str
    client_auth_type: ClientAuth = ClientAuth.NO_CLIENT_CERT
    client_ca_file: str | None = None
    min_version: TLSVersionName = TLSVersionName.TLS12
    max_version: TLSVersionName = TLSVersionName.TLS13
    cipher_suites: tuple[str, ...] = ()
    curve_preferences: tuple[str, ...] = ()
    prefer_server_cipher_suites: bool = True
    source: str = "<web config>"  # the file it came from, for error messages


_VERSIONS = {
    TLSVersionName.TLS10: ssl.TLSVersion.TLSv1,
    TLSVersionName.TLS11: ssl.TLSVersion.TLSv1_1,
    TLSVersionName.TLS12: ssl.TLSVersion.TLSv1_2,
    TLSVersionName.TLS13: ssl.TLSVersion.TLSv1_3,
}
# RequestClientCert: Go asks for a certificate but never verifies or uses it, so nobody
# is refused; not asking (CERT_NONE) gives the same access. RequireAnyClientCert is
# rejected when the file is parsed (OpenSSL cannot require without verifying).
_VERIFY_MODES = {
    ClientAuth.NO_CLIENT_CERT: ssl.CERT_NONE,
    ClientAuth.REQUEST_CLIENT_CERT: ssl.CERT_NONE,
    ClientAuth.VERIFY_CLIENT_CERT_IF_GIVEN: ssl.CERT_OPTIONAL,
    ClientAuth.REQUIRE_AND_VERIFY_CLIENT_CERT: ssl.CERT_REQUIRED,
}


def _no_password() -> bytes:
    """Refuse to decrypt an encrypted key (instead of OpenSSL prompting on the terminal)."""
    raise ValueError("encrypted private keys are not supported")


def _fail(tls: TLSServerConfig, field: str, problem: str) -> WebConfigError:
    """Return the one-line error for ``tls_server_config.<field>``."""
    return WebConfigError(tls.source, f"tls_server_config.{field}", problem)


def _reason(exc: BaseException) -> str:
    """Return the short reason of an ssl/OS error."""
    if isinstance(exc, ssl.SSLError) and "PEM lib" in str(exc):
        return "no PEM certificate or private key found where expected"
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return f"{exc.reason.lower().replace('_', ' ')} ({exc.library or 'ssl'})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def build_ssl_context(tls: TLSServerConfig) -> ssl.SSLContext:
    """Return a server ``SSLContext`` built from ``tls``; reads the cert, key and CA files.

    Raises WebConfigError naming the file and field when a file is missing, unreadable,
    not PEM, or when the key does not match the certificate.
    """
    if tls.client_auth_type not in _VERIFY_MODES:
        raise _fail(tls, "client_auth_type", f"{tls.client_auth_type.value} is not supported")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.minimum_version = _VERSIONS[tls.min_version]
        context.maximum_version = _VERSIONS[tls.max_version]
    except (ValueError, ssl.SSLError) as exc:
        raise _fail(tls, "min_version", f"not supported by this OpenSSL: {exc}") from None
    for path, field in ((tls.cert_file, "cert_file"), (tls.key_file, "key_file")):
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise _fail(tls, field, f"cannot read {path}: {_reason(exc)}") from None
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file, password=_no_password)
    except (ssl.SSLError, ValueError, OSError) as exc:
        pair = f"{tls.cert_file} + {tls.key_file}"
        raise _fail(tls, "cert_file", f"cannot load key pair {pair}: {_reason(exc)}") from None
    context.verify_mode = _VERIFY_MODES[tls.client_auth_type]
    if tls.client_ca_file is not None and context.verify_mode != ssl.CERT_NONE:
        try:
            context.load_verify_locations(cafile=tls.client_ca_file)
        except (ssl.SSLError, OSError) as exc:
            problem = f"cannot load CA certificates from {tls.client_ca_file}: {_reason(exc)}"
            raise _fail(tls, "client_ca_file", problem) from None
    if tls.prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    legacy = [name for name in (CIPHER_SUITES[c] for c in tls.cipher_suites) if name]
    if legacy:  # OpenSSL's cipher list covers TLS <= 1.2; TLS 1.3 suites stay default
        try:
            context.set_ciphers(":".join(legacy))
        except ssl.SSLError as exc:
            raise _fail(tls, "cipher_suites", f"rejected by OpenSSL: {_reason(exc)}") from None
    if tls.curve_preferences:
        log.warning(
            "web config %s: tls_server_config.curve_preferences is not applied "
            "(Python's ssl module cannot set a group list); OpenSSL's defaults are used",
            tls.source,
        )
    context.set_alpn_protocols(["http/1.1"])
    return context
