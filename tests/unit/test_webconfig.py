"""The web config parser: the exporter-toolkit format, strict, one-line errors.

Each case is also given to ``promtool check web-config`` (Prometheus 2.42): the parser
must accept exactly what promtool accepts, except for the documented deviations.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import bcrypt
import pytest
import trustme

from podman_exporter.web.tls import build_ssl_context
from podman_exporter.web.webconfig import (
    CIPHER_SUITES,
    ClientAuth,
    TLSVersionName,
    WebConfigError,
    load_web_config,
)
from support import require_tool

HASH = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a directory with server.pem/server.key, ca.pem and other.pem (another key)."""
    root = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    server.cert_chain_pems[0].write_to_path(str(root / "server.pem"))
    server.private_key_pem.write_to_path(str(root / "server.key"))
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    other = ca.issue_cert("other.example")
    other.cert_chain_pems[0].write_to_path(str(root / "other.pem"))
    return root


def write(directory: Path, text: str, name: str = "web.yml") -> str:
    """Write a web config next to the certs and return its path."""
    path = directory / name
    path.write_text(text)
    return str(path)


TLS = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
MTLS = TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n"

# (name, yaml, accepted by us, the field our error names)
CASES: list[tuple[str, str, bool, str]] = [
    ("empty", "", True, ""),
    ("null sections", "tls_server_config:\nbasic_auth_users:\n", True, ""),
    ("tls", TLS, True, ""),
    ("mtls", MTLS, True, ""),
    ("users", f"basic_auth_users:\n  alice: '{HASH}'\n", True, ""),
    ("numeric user", f"basic_auth_users:\n  123: '{HASH}'\n", True, ""),
    (
        "everything",
        MTLS
        + "  min_version: TLS13\n  max_version: TLS13\n"
        + "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]\n"
        + "  curve_preferences: [X25519, CurveP256]\n  prefer_server_cipher_suites: false\n"
        + "http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n"
        + "    X-Content-Type-Options: nosniff\n    Strict-Transport-Security: max-age=3600\n"
        + f"basic_auth_users:\n  alice: '{HASH}'\n",
        True,
        "",
    ),
    ("unknown top key", "tls_config: {}\n", False, "tls_config"),
    ("rate_limit (newer toolkit)", "rate_limit: {burst: 1}\n", False, "rate_limit"),
    ("unknown tls key", TLS + "  client_allowed_sans: [a]\n", False, "client_allowed_sans"),
    ("not a mapping", "- a\n", False, "must be a mapping"),
    ("bad yaml", "tls_server_config: [\n", False, "line"),
    ("duplicate top key", "basic_auth_users: {}\nbasic_auth_users: {}\n", False, "duplicate"),
    ("duplicate user", f"basic_auth_users: {{a: '{HASH}', a: '{HASH}'}}\n", False, "duplicate"),
    ("key without cert", "tls_server_config:\n  key_file: server.key\n", False, "cert_file"),
    ("cert without key", "tls_server_config:\n  cert_file: server.pem\n", False, "key_file"),
    ("missing cert file", TLS.replace("server.pem", "nope.pem"), False, "cert_file"),
    ("key of other cert", TLS.replace("server.pem", "other.pem"), False, "cert_file"),
    ("ca without auth type", TLS + "  client_ca_file: ca.pem\n", False, "client_ca_file"),
    ("bad auth type", TLS + "  client_auth_type: Always\n", False, "client_auth_type"),
    ("bad version", TLS + "  min_version: TLS14\n", False, "min_version"),
    ("bad cipher", TLS + "  cipher_suites: [RC4]\n", False, "cipher_suites"),
    ("bad curve", TLS + "  curve_preferences: [P-999]\n", False, "curve_preferences"),
    ("string bool", "http_server_config:\n  http2: 'yes'\n", False, "http2"),
    ("bad header", "http_server_config:\n  headers:\n    Server: x\n", False, "headers.Server"),
    (
        "header case",
        "http_server_config:\n  headers:\n    x-frame-options: deny\n",
        False,
        "headers.x-frame-options",
    ),
    (
        "header value",
        "http_server_config:\n  headers:\n    X-Frame-Options: DENY\n",
        False,
        "headers.X-Frame-Options",
    ),
    ("plain password", "basic_auth_users:\n  alice: s3cret\n", False, "basic_auth_users.alice"),
    ("empty hash", "basic_auth_users:\n  alice: ''\n", False, "basic_auth_users.alice"),
]

# Accepted by promtool 2.42 but refused here on purpose (see webconfig.py's docstring).
DEVIATIONS: list[tuple[str, str, str]] = [
    (
        "verify without CA",
        TLS + "  client_auth_type: RequireAndVerifyClientCert\n",
        "client_ca_file",
    ),
    ("require any cert", TLS + "  client_auth_type: RequireAnyClientCert\n", "client_auth_type"),
    ("min above max", TLS + "  min_version: TLS13\n  max_version: TLS12\n", "min_version"),
    ("CA file without certs", MTLS.replace("ca.pem", "server.key"), "client_ca_file"),
]


def promtool_accepts(path: str) -> bool:
    """Return whether ``promtool check web-config`` accepts the file."""
    command = [require_tool("promtool"), "check", "web-config", path]
    run = subprocess.run(command, check=False, capture_output=True)
    return run.returncode == 0


@pytest.mark.parametrize(("text", "ok", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parser_matches_promtool(certs: Path, text: str, ok: bool, field: str) -> None:
    path = write(certs, text)
    assert promtool_accepts(path) is ok
    if ok:
        load_web_config(path)
        return
    with pytest.raises(WebConfigError) as caught:
        load_web_config(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"web config {path}: ")
    assert field in message


@pytest.mark.parametrize(
    ("text", "field"), [d[1:] for d in DEVIATIONS], ids=[d[0] for d in DEVIATIONS]
)
def test_documented_deviations(certs: Path, text: str, field: str) -> None:
    path = write(certs, text)
    assert promtool_accepts(path)
    with pytest.raises(WebConfigError, match=field):
        load_web_config(path)


def test_full_config_values(certs: Path) -> None:
    config = load_web_config(write(certs, CASES[6][1]))
    tls = config.tls_server_config
    assert tls is not None
    assert tls.cert_file == str(certs / "server.pem")  # relative to the file
    assert tls.client_ca_file == str(certs / "ca.pem")
    assert tls.client_auth_type is ClientAuth.REQUIRE_AND_VERIFY_CLIENT_CERT
    assert tls.min_version is TLSVersionName.TLS13
    assert tls.prefer_server_cipher_suites is False
    assert tls.curve_preferences == ("X25519", "CurveP256")
    assert config.http_server_config.http2 is False
    assert dict(config.http_server_config.headers)["X-Frame-Options"] == "deny"
    assert bcrypt.checkpw(b"s3cret", config.basic_auth_users["alice"].encode())
    assert "$2" not in repr(config)  # hashes stay out of logs


def test_tls_fields_off_means_plain_http(certs: Path) -> None:
    config = load_web_config(write(certs, "tls_server_config:\n  min_version: TLS13\n"))
    assert config.tls_server_config is None
    assert not config.tls_enabled
    assert not config.basic_auth_enabled


def test_error_never_echoes_a_password(certs: Path) -> None:
    path = write(certs, "basic_auth_users:\n  alice: hunter2-plain\n")
    with pytest.raises(WebConfigError) as caught:
        load_web_config(path)
    assert "hunter2" not in str(caught.value)


def test_unreadable_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(WebConfigError, match=r"missing\.yml: cannot read"):
        load_web_config(str(tmp_path / "missing.yml"))


def test_context_settings(certs: Path) -> None:
    config = load_web_config(write(certs, CASES[6][1]))
    assert config.tls_server_config is not None
    context = build_ssl_context(config.tls_server_config)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3
    assert not context.options & ssl.OP_CIPHER_SERVER_PREFERENCE
    tls12 = {c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert tls12 == {"ECDHE-RSA-AES128-GCM-SHA256"}


def test_encrypted_key_is_refused_without_prompting(certs: Path, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key((certs / "server.key").read_bytes(), None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    (tmp_path / "server.pem").write_bytes((certs / "server.pem").read_bytes())
    (tmp_path / "server.key").write_bytes(encrypted)
    with pytest.raises(WebConfigError, match="cert_file"):
        load_web_config(write(tmp_path, TLS))


def test_cipher_table_matches_openssl() -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl command is not installed")
    listing = subprocess.run(
        ["openssl", "ciphers", "-stdname", "ALL"], capture_output=True, text=True, check=True
    ).stdout
    standard = {line.split()[0]: line.split()[2] for line in listing.splitlines()}
    for iana, openssl_name in CIPHER_SUITES.items():
        assert standard[iana] == (openssl_name or iana)
