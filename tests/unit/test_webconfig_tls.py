"""TLS, mTLS and basic auth on a real uvicorn (uvloop + httptools) on loopback.

Each server is built from a web.yml the way the exporter does it: load_web_config,
build_ssl_context handed to uvicorn's ``ssl_context_factory``, apply_web_config around
the app. Clients: curl (subprocess) and httpx / the ssl module.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import bcrypt
import httpx
import pytest
import trustme
import uvicorn

from podman_exporter.web.auth import apply_web_config, authenticated_user
from podman_exporter.web.tls import build_ssl_context
from podman_exporter.web.webconfig import load_web_config
from support import require_tool

PASSWORD = "correct horse"


async def tiny_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer every HTTP request with 200 and ``<path> <user>``."""
    if scope["type"] != "http":
        return
    body = f"{scope['path']} {authenticated_user(scope) or '-'}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def serve(web_yml: str, hook: str = "factory") -> Iterator[int]:
    """Run uvicorn for ``web_yml`` in a thread on a free loopback port; yield the port.

    ``hook`` is how the context reaches uvicorn: ``factory`` (``ssl_context_factory``)
    or ``after_load`` (``config.load()`` then ``config.ssl = context``).
    """
    config = load_web_config(web_yml)
    assert config.tls_server_config is not None
    context = build_ssl_context(config.tls_server_config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    uv_config = uvicorn.Config(
        apply_web_config(tiny_app, config),
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_level="critical",
        ssl_context_factory=(lambda _c, _d: context) if hook == "factory" else None,
    )
    if hook == "after_load":
        uv_config.load()
        uv_config.ssl = context
    server = uvicorn.Server(uv_config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:  # pytest-timeout guards a hang
        assert thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Return paths of a CA, a server cert for 127.0.0.1, a client cert and a foreign one."""
    root = tmp_path_factory.mktemp("pki")
    ca, foreign_ca = trustme.CA(), trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    server.cert_chain_pems[0].write_to_path(str(root / "server.pem"))
    server.private_key_pem.write_to_path(str(root / "server.key"))
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    for name, issuer in (("client", ca), ("foreign", foreign_ca)):
        cert = issuer.issue_cert(f"{name}@example.org")
        cert.private_key_and_cert_chain_pem.write_to_path(str(root / f"{name}.pem"))
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    return {"root": root, "ca": str(root / "ca.pem"), "hash": hashed}


def web_yml(pki: dict[str, Any], extra_tls: str = "", users: bool = False) -> str:
    """Write a web.yml into the PKI directory and return its path."""
    text = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n" + extra_tls
    text += "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
    if users:
        text += f"basic_auth_users:\n  prometheus: '{pki['hash']}'\n"
    path = pki["root"] / f"web-{abs(hash(text))}.yml"
    path.write_text(text)
    return str(path)


def curl(
    port: int, pki: dict[str, Any], *args: str, path: str = "/metrics", trust: bool = True
) -> tuple[int, str]:
    """Return curl's exit code and ``<status> <body>`` for one request."""
    trusted = ["--cacert", pki["ca"]] if trust else []
    command = [require_tool("curl"), "-sS", "-w", " %{http_code}", *trusted]
    run = subprocess.run(
        [*command, *args, f"https://127.0.0.1:{port}{path}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return run.returncode, run.stdout


def assert_promtool_accepts(path: str) -> None:
    """Fail unless ``promtool check web-config`` accepts the file (skip without promtool)."""
    run = subprocess.run(
        [require_tool("promtool"), "check", "web-config", path], capture_output=True, check=False
    )
    assert run.returncode == 0, run.stderr


def client_context(pki: dict[str, Any], cert: str | None = None) -> ssl.SSLContext:
    """Return a client context trusting the test CA, optionally with a client cert."""
    context = ssl.create_default_context(cafile=pki["ca"])
    if cert is not None:
        context.load_cert_chain(str(pki["root"] / f"{cert}.pem"))
    return context


def negotiated(port: int, context: ssl.SSLContext) -> str | None:
    """Return the TLS version a handshake with ``context`` settles on."""
    raw = socket.create_connection(("127.0.0.1", port))
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        return tls.version()


def get(port: int, context: ssl.SSLContext, path: str = "/metrics", **kw: Any) -> httpx.Response:
    """Return the response to one GET over TLS with ``context``."""
    with httpx.Client(verify=context, timeout=10) as client:
        return client.get(f"https://127.0.0.1:{port}{path}", **kw)


@pytest.mark.parametrize("hook", ["factory", "after_load"])
def test_tls_serves_curl_and_python(pki: dict[str, Any], hook: str) -> None:
    with serve(web_yml(pki), hook) as port:
        assert curl(port, pki) == (0, "/metrics - 200")
        response = get(port, client_context(pki))
        assert (response.status_code, response.text) == (200, "/metrics -")
        assert response.headers["x-frame-options"] == "deny"
        assert response.http_version == "HTTP/1.1"
        assert curl(port, pki, trust=False)[0] == 60  # curl: peer certificate not trusted
        with pytest.raises(httpx.ConnectError):  # a client that does not trust the CA
            get(port, ssl.create_default_context())


def test_plain_http_is_not_served_on_the_tls_port(pki: dict[str, Any]) -> None:
    with serve(web_yml(pki)) as port, pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)


def test_mtls_requires_a_cert_from_the_client_ca(pki: dict[str, Any]) -> None:
    extra = "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n"
    path = web_yml(pki, extra, users=True)
    assert_promtool_accepts(path)
    with serve(path) as port:
        assert curl(port, pki)[0] != 0
        with pytest.raises(httpx.TransportError):
            get(port, client_context(pki))
        with pytest.raises(httpx.TransportError):
            get(port, client_context(pki, "foreign"))
        client = ("--cert", str(pki["root"] / "client.pem"))
        assert curl(port, pki, *client)[1].endswith(" 401")  # the cert alone is not a login
        auth = ("-u", f"prometheus:{PASSWORD}")
        assert curl(port, pki, *client, *auth) == (0, "/metrics prometheus 200")
        assert get(port, client_context(pki, "client")).status_code == 401


def test_verify_if_given_accepts_no_cert_but_refuses_a_foreign_one(pki: dict[str, Any]) -> None:
    extra = "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.pem\n"
    with serve(web_yml(pki, extra)) as port:
        assert get(port, client_context(pki)).status_code == 200
        assert get(port, client_context(pki, "client")).status_code == 200
        with pytest.raises(httpx.TransportError):
            get(port, client_context(pki, "foreign"))


def test_min_version_tls13_refuses_a_tls12_client(pki: dict[str, Any]) -> None:
    with serve(web_yml(pki, "  min_version: TLS13\n")) as port:
        assert curl(port, pki, "--tls-max", "1.2")[0] != 0
        old = client_context(pki)
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(httpx.ConnectError):
            get(port, old)
        assert curl(port, pki, "--tlsv1.3") == (0, "/metrics - 200")
        assert negotiated(port, client_context(pki)) == "TLSv1.3"


def test_max_version_tls12_is_honoured(pki: dict[str, Any]) -> None:
    with serve(web_yml(pki, "  max_version: TLS12\n")) as port:
        assert negotiated(port, client_context(pki)) == "TLSv1.2"


def test_basic_auth_over_tls(pki: dict[str, Any]) -> None:
    path = web_yml(pki, users=True)
    assert_promtool_accepts(path)
    with serve(path) as port:
        assert curl(port, pki) == (0, "Unauthorized\n 401")
        assert curl(port, pki, "-u", "prometheus:wrong")[1].endswith(" 401")
        assert curl(port, pki, "-u", f"prometheus:{PASSWORD}") == (0, "/metrics prometheus 200")
        assert curl(port, pki, path="/healthz") == (0, "/healthz - 200")
        context = client_context(pki)
        denied = get(port, context)
        assert (denied.status_code, denied.headers["www-authenticate"]) == (401, "Basic")
        assert denied.headers["x-frame-options"] == "deny"
        assert get(port, context, auth=("prometheus", "nope")).status_code == 401
        assert get(port, context, auth=("nobody", PASSWORD)).status_code == 401
        ok = get(port, context, auth=("prometheus", PASSWORD))
        assert (ok.status_code, ok.text) == (200, "/metrics prometheus")
