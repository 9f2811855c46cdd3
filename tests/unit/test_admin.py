"""The admin endpoint against the simulated Podman: auth, actions, errors, limits."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podman_exporter.collect.collectors import COLLECTORS
from podman_exporter.collect.loop import CollectionLoop
from podman_exporter.config import Config
from podman_exporter.exposition.render import ExpositionCache
from podman_exporter.metrics.options import MetricOptions
from podman_exporter.podman.select import BackendSelector
from podman_exporter.runner import build_app
from podman_exporter.sim import SimOptions, SimulatorHandle, start_simulator
from podman_exporter.web.admin import AdminTarget
from podman_exporter.web.asgi import ASGIApp
from podman_exporter.web.webconfig import parse_web_config

TOKEN = "0123456789abcdef-admin-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}
ADMIN_PORT = 9883
METRICS_PORT = 9882


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorHandle]:
    with start_simulator(f"unix:{tmp_path}/podman.sock",
                         SimOptions(containers=20, images=6, seed=3)) as handle:
        yield handle


def make_app(sim: SimulatorHandle, *, token: str | None = TOKEN, rate_limit: int = 1000,
             users: dict[str, str] | None = None, admin_users: dict[str, str] | None = None,
             failure_limit: int = 10) -> tuple[ASGIApp, CollectionLoop]:
    config = Config(podman_api="varlink", podman_timeout=2.0,
                    collectors=frozenset(s.name for s in COLLECTORS),
                    listen_addresses=(("", METRICS_PORT),),
                    admin_listen_addresses=(("127.0.0.1", ADMIN_PORT),),
                    admin_rate_limit=rate_limit, admin_failure_limit=failure_limit)
    web_config = None
    if users:
        lines = "\n".join(f"  {u}: {h}" for u, h in users.items())
        web_config = parse_web_config(f"basic_auth_users:\n{lines}\n", "web.yml")
    cache = ExpositionCache(MetricOptions())
    backend = BackendSelector(config, sim.address)
    loop = CollectionLoop(backend=backend, collectors=COLLECTORS, interval=3600, max_age=7200,
                          publish=cache.publish, endpoint="root")
    targets = {"root": AdminTarget(backend, loop.count_admin_action, loop.trigger)}
    app = build_app(config, web_config, cache=cache, targets=lambda: targets,
                    token=token.encode() if token else None, admin_users=admin_users)
    return app, loop


def call(app: ASGIApp, method: str, path: str, headers: dict[str, str] | None = None,
         content: bytes = b"", *, port: int = ADMIN_PORT,
         client: tuple[str, int] = ("127.0.0.1", 123)) -> httpx.Response:
    """One request to ``app`` on the admin listener (or ``port``) from ``client``."""
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://t:{port}") as http:
            return await http.request(method, path, headers=headers, content=content)

    return asyncio.run(go())


def state(sim: SimulatorHandle) -> dict[str, object]:
    return {"containers": sorted((c["id"], c["status"]) for c in sim.fleet.list_containers()),
            "images": sorted(i["id"] for i in sim.fleet.list_images())}


def test_off_without_credentials(sim: SimulatorHandle) -> None:
    app, _ = make_app(sim, token=None)
    for method, path in (("GET", "/admin/"), ("POST", "/admin/containers/prune"),
                         ("DELETE", "/admin/images/x")):
        assert call(app, method, path, AUTH).status_code == 404
    assert call(app, "GET", "/healthz", port=METRICS_PORT).status_code == 200


def test_listing_and_auth(sim: SimulatorHandle) -> None:
    app, _ = make_app(sim)
    assert call(app, "GET", "/admin/").status_code == 401
    assert call(app, "GET", "/admin/", {"authorization": "Bearer wrong"}).status_code == 401
    resp = call(app, "GET", "/admin/", AUTH)
    assert resp.status_code == 200
    names = {a["action"] for a in resp.json()["actions"]}
    assert {"containers_prune", "images_prune", "container_stop", "image_remove"} <= names
    before = state(sim)
    resp = call(app, "POST", "/admin/containers/prune")
    assert resp.status_code == 401 and resp.json() == {"action": "containers_prune",
                                                       "error": "unauthorized"}
    assert state(sim) == before


def test_prune_removes_exactly_the_stopped_containers(sim: SimulatorHandle) -> None:
    app, _ = make_app(sim)
    kept = {c["id"] for c in sim.fleet.list_containers() if c["status"] in ("running", "paused")}
    stopped = {c["id"] for c in sim.fleet.list_containers()} - kept
    assert stopped
    dry = call(app, "POST", "/admin/containers/prune?dry_run=true", AUTH)
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    assert set(dry.json()["ids"]) == stopped
    assert {c["id"] for c in sim.fleet.list_containers()} == kept | stopped  # nothing gone
    resp = call(app, "POST", "/admin/containers/prune", AUTH)
    assert resp.status_code == 200 and set(resp.json()["ids"]) == stopped
    assert {c["id"] for c in sim.fleet.list_containers()} == kept


def test_image_prune_dry_run_matches(sim: SimulatorHandle) -> None:
    app, _ = make_app(sim)
    dry = call(app, "POST", "/admin/images/prune?dry_run=1", AUTH).json()["ids"]
    before = {i["id"] for i in sim.fleet.list_images()}
    done = call(app, "POST", "/admin/images/prune", AUTH).json()["ids"]
    assert sorted(dry) == sorted(done)
    assert {i["id"] for i in sim.fleet.list_images()} == before - set(done)


def test_container_actions_change_podman(sim: SimulatorHandle) -> None:
    app, _ = make_app(sim)
    name = sim.fleet.containers_in("running")[0]

    def status() -> str:
        return str(next(c["status"] for c in sim.fleet.list_containers() if c["names"] == name))

    assert call(app, "POST", f"/admin/containers/{name}/pause", AUTH).status_code == 200
    assert status() == "paused"
    assert call(app, "POST", f"/admin/containers/{name}/unpause", AUTH).status_code == 200
    assert status() == "running"
    resp = call(app, "POST", f"/admin/containers/{name}/stop?timeout=0", AUTH)
    assert resp.status_code == 200 and len(resp.json()["ids"]) == 1
    assert status() == "exited"
    assert call(app, "POST", f"/admin/containers/{name}/restart", AUTH).status_code == 200
    assert status() == "running"
    assert call(app, "POST", f"/admin/containers/{name}/kill?signal=9", AUTH).status_code == 200
    assert status() != "running"
    assert call(app, "DELETE", f"/admin/containers/{name}?force=true", AUTH).status_code == 200
    assert name not in [c["names"] for c in sim.fleet.list_containers()]


@pytest.mark.parametrize(("method", "path", "code"), [
    ("POST", "/admin/containers/nosuch/stop", 404),
    ("DELETE", "/admin/images/nosuch:latest", 404),
    ("POST", "/admin/containers/x/stop?timeout=-1", 400),
    ("POST", "/admin/containers/x/kill?signal=0", 400),
    ("POST", "/admin/containers/x/kill?signal=65", 400),
    ("POST", "/admin/containers/x/kill?signal=nine", 400),
    ("POST", "/admin/containers/x/stop?bogus=1", 400),
    ("POST", "/admin/containers/prune?dry_run=maybe", 400),
    ("POST", "/admin/containers/x/stop?timeout=1&timeout=2", 400),
    ("POST", "/admin/containers/-bad/stop", 404),
    ("POST", "/admin/containers/a%20b/stop", 404),
    ("GET", "/admin/containers/prune", 405),
    ("HEAD", "/admin/containers/x/stop", 405),
    ("PUT", "/admin/images/prune", 405),
    ("GET", "/admin/nothing", 404),
])
def test_failure_codes(sim: SimulatorHandle, method: str, path: str, code: int) -> None:
    app, _ = make_app(sim)
    before = state(sim)
    resp = call(app, method, path, AUTH)
    assert resp.status_code == code, resp.text
    if method != "HEAD":
        assert "error" in resp.json()
    assert state(sim) == before


def test_podman_down_is_503_and_changes_nothing(sim: SimulatorHandle) -> None:
    app, _ = make_app(sim)
    before = state(sim)
    sim.stop()
    resp = call(app, "POST", "/admin/containers/prune", AUTH)
    assert resp.status_code == 503 and "unreachable" in resp.json()["error"]
    assert state(sim) == before


def test_rate_limit(sim: SimulatorHandle) -> None:
    app, _ = make_app(sim, rate_limit=3)
    codes = [call(app, "POST", "/admin/containers/prune?dry_run=true", AUTH).status_code
             for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]


def basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


SCRAPE_HASH = bcrypt.hashpw(b"scrape-pw", bcrypt.gensalt(rounds=4)).decode()
ADMIN_HASH = bcrypt.hashpw(b"admin-pw", bcrypt.gensalt(rounds=4)).decode()


@pytest.mark.parametrize("port", [ADMIN_PORT, METRICS_PORT])
def test_scrape_users_never_enable_admin(sim: SimulatorHandle, port: int) -> None:
    """A web config with only basic_auth_users (node_exporter's) enables no /admin."""
    app, _ = make_app(sim, token=None, users={"prometheus": SCRAPE_HASH})
    scrape = basic("prometheus", "scrape-pw")
    before = state(sim)
    assert call(app, "GET", "/admin/", scrape, port=port).status_code == 404
    for method, path in (("POST", "/admin/containers/prune"), ("POST", "/admin/images/prune"),
                         ("DELETE", "/admin/containers/x?force=true")):
        assert call(app, method, path, scrape, port=port).status_code == 404
    assert state(sim) == before
    assert call(app, "GET", "/metrics", port=METRICS_PORT).status_code == 401
    assert call(app, "GET", "/healthz", port=METRICS_PORT).status_code == 200


def test_scrape_user_cannot_act_when_admin_is_on(sim: SimulatorHandle) -> None:
    """With admin users configured, the scrape user is still not one of them."""
    app, _ = make_app(sim, token=TOKEN, users={"prometheus": SCRAPE_HASH},
                      admin_users={"ops": ADMIN_HASH})
    before = state(sim)
    scrape = basic("prometheus", "scrape-pw")
    assert call(app, "GET", "/admin/", scrape).status_code == 401
    assert call(app, "POST", "/admin/containers/prune", scrape).status_code == 401
    assert state(sim) == before
    assert call(app, "GET", "/admin/", basic("ops", "admin-pw")).status_code == 200
    dry = call(app, "POST", "/admin/containers/prune?dry_run=true", basic("ops", "admin-pw"))
    assert dry.status_code == 200
    assert call(app, "GET", "/admin/", basic("ops", "scrape-pw")).status_code == 401
    # the admin user is no scrape user either
    assert call(app, "GET", "/metrics", basic("ops", "admin-pw"),
                port=METRICS_PORT).status_code == 401


CROSS_SITE = [
    {"origin": "http://evil.example", "content-type": "application/x-www-form-urlencoded"},
    {"origin": "null"},
    {"origin": "http://t:9882"},  # the metrics port is another origin
    {"origin": "https://t:9883"},
    {"origin": "http://t:9883.evil.example"},
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site"},
    {"content-type": "text/plain"},
    {"content-type": "text/plain;charset=UTF-8"},
    {"content-type": "application/x-www-form-urlencoded"},
    {"content-type": "multipart/form-data; boundary=x"},
]


@pytest.mark.parametrize("extra", CROSS_SITE)
@pytest.mark.parametrize("creds", ["token", "user"])
def test_cross_site_requests_are_refused(sim: SimulatorHandle, extra: dict[str, str],
                                         creds: str) -> None:
    """A cross-site form or text/plain POST with valid credentials changes nothing."""
    app, _ = make_app(sim, admin_users={"ops": ADMIN_HASH})
    auth = AUTH if creds == "token" else basic("ops", "admin-pw")
    before = state(sim)
    body = b"dry_run=false" if "content-type" in extra else b""
    for method, path in (("POST", "/admin/containers/prune"), ("POST", "/admin/images/prune")):
        resp = call(app, method, path, {**auth, **extra}, body)
        assert resp.status_code == 403, resp.text
        assert "refused" in resp.json()["error"] or "body" in resp.json()["error"]
    name = sim.fleet.containers_in("running")[0]
    assert call(app, "DELETE", f"/admin/containers/{name}?force=true",
                {**auth, **extra}, body).status_code == 403
    assert state(sim) == before


def test_same_origin_and_json_are_accepted(sim: SimulatorHandle) -> None:
    app, _ = make_app(sim)
    for extra, body in (({"origin": "http://t:9883"}, b""), ({"origin": "HTTP://T:9883"}, b""),
                        ({"sec-fetch-site": "same-origin"}, b""),
                        ({"sec-fetch-site": "none"}, b""),
                        ({"content-type": "application/json"}, b"{}"),
                        ({"content-type": "application/json; charset=utf-8"}, b"{}")):
        resp = call(app, "POST", "/admin/containers/prune?dry_run=true", {**AUTH, **extra}, body)
        assert resp.status_code == 200, (extra, resp.text)
    # a body without a content type is refused too
    resp = call(app, "POST", "/admin/containers/prune", AUTH, b"x")
    assert resp.status_code == 403


def test_failures_do_not_lock_out_valid_credentials(sim: SimulatorHandle) -> None:
    """10+ bad POSTs from the admin's own address do not lock the admin out."""
    app, _ = make_app(sim, rate_limit=1000, failure_limit=3)
    codes = [call(app, "POST", "/admin/containers/prune?dry_run=true").status_code
             for _ in range(12)]
    assert codes == [401] * 3 + [429] * 9
    assert call(app, "POST", "/admin/containers/prune?dry_run=true", AUTH).status_code == 200
    # another client is not affected
    other = ("10.0.0.2", 1)
    assert call(app, "POST", "/admin/containers/prune", client=other).status_code == 401


def test_blocked_client_gets_no_new_password_tried(sim: SimulatorHandle) -> None:
    """Past the failure limit, a basic password is only accepted if already verified
    (no guessing), and the one verified before keeps working (no lockout)."""
    app, _ = make_app(sim, token=None, admin_users={"ops": ADMIN_HASH}, failure_limit=2)
    good = basic("ops", "admin-pw")
    assert call(app, "GET", "/admin/", good).status_code == 200
    for _ in range(2):
        assert call(app, "GET", "/admin/", basic("ops", "guess")).status_code == 401
    admin = app.admin  # type: ignore[attr-defined]
    runs = admin.users.bcrypt_checks
    assert call(app, "GET", "/admin/", basic("ops", "guess2")).status_code == 429
    assert admin.users.bcrypt_checks == runs  # the guess was not even tried
    assert call(app, "GET", "/admin/", good).status_code == 200
    assert call(app, "POST", "/admin/containers/prune?dry_run=true", good).status_code == 200


def test_action_rate_limit_counts_only_authenticated_requests(sim: SimulatorHandle) -> None:
    app, _ = make_app(sim, rate_limit=2, failure_limit=1000)
    for _ in range(5):
        assert call(app, "POST", "/admin/containers/prune?dry_run=true").status_code == 401
    codes = [call(app, "POST", "/admin/containers/prune?dry_run=true", AUTH).status_code
             for _ in range(3)]
    assert codes == [200, 200, 429]


def test_listing_guesses_are_limited(sim: SimulatorHandle) -> None:
    """GET /admin/ with wrong credentials goes through the failure limiter."""
    app, _ = make_app(sim, failure_limit=3)
    codes = [call(app, "GET", "/admin/", {"authorization": f"Bearer guess{i}"}).status_code
             for i in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    # and shares it with actions
    assert call(app, "POST", "/admin/containers/prune").status_code == 429
    assert call(app, "GET", "/admin/", AUTH).status_code == 200


def test_forwarded_for_is_not_the_client(sim: SimulatorHandle) -> None:
    """The limiter key is the peer address; X-Forwarded-For picks nothing."""
    app, _ = make_app(sim, failure_limit=2)
    for i in range(4):
        resp = call(app, "POST", "/admin/containers/prune",
                    {"x-forwarded-for": f"203.0.113.{i}", "forwarded": f"for=198.51.100.{i}"})
        assert resp.status_code == (401 if i < 2 else 429)
    admin = app.admin  # type: ignore[attr-defined]
    assert list(admin.failures._events) == ["127.0.0.1"]


def test_success_is_counted_and_triggers_a_collection(sim: SimulatorHandle) -> None:
    app, loop = make_app(sim)
    loop.start()
    try:
        first = loop.collect_once()
        assert call(app, "POST", "/admin/containers/prune", AUTH).status_code == 200
        deadline = time.monotonic() + 10
        text = ""
        while time.monotonic() < deadline:
            text = call(app, "GET", "/metrics", port=METRICS_PORT).text
            if 'podman_exporter_admin_actions_total{action="containers_prune"' in text:
                break
            time.sleep(0.1)
        assert 'action="containers_prune",endpoint="root",result="success"} 1.0' in text
        assert first.containers is not None
    finally:
        loop.stop()


METHODS = st.sampled_from(["GET", "HEAD", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"])
PATHS = st.one_of(
    st.sampled_from(["/admin/", "/admin/containers/prune", "/admin/images/prune",
                     "/admin/containers/{c}/stop", "/admin/containers/{c}",
                     "/admin/containers/{c}/kill?signal=9", "/admin/images/{i}?force=true",
                     "/admin/containers/prune?dry_run=false", "/admin//containers/prune",
                     "/ADMIN/containers/prune", "/admin/containers/prune/"]),
    st.text(alphabet="/abcdmintoesrpu?=&%.-_", max_size=40).map(lambda t: "/admin/" + t),
)
HEADERS = st.dictionaries(
    st.sampled_from(["authorization", "x-forwarded-for", "cookie", "content-type"]),
    st.sampled_from(["Bearer wrong", "Basic YWRtaW46YWRtaW4=", "Bearer ", "Token " + TOKEN,
                     "bearer" + TOKEN, TOKEN, "Bearer " + TOKEN[:-1], "application/json"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(method=METHODS, path=PATHS, headers=HEADERS, body=st.binary(max_size=64))
def test_no_action_without_credentials(sim: SimulatorHandle, method: str, path: str,
                                       headers: dict[str, str], body: bytes) -> None:
    app, _ = make_app(sim)
    target = sim.fleet.list_containers()[0]["names"]
    image = sim.fleet.list_images()[0]["id"]
    before = state(sim)
    resp = call(app, method, path.format(c=target, i=image), headers, body)
    assert resp.status_code in (401, 403, 404, 405, 400, 429)
    assert state(sim) == before


def test_admin_only_on_its_own_listener(sim: SimulatorHandle) -> None:
    """/admin answers only on the admin listener, and only /admin does there."""
    app, _ = make_app(sim)
    assert call(app, "GET", "/admin/", AUTH).status_code == 200
    assert call(app, "POST", "/admin/containers/prune?dry_run=true", AUTH).status_code == 200
    assert call(app, "GET", "/metrics", AUTH).status_code == 404
    assert call(app, "GET", "/admin/", AUTH, port=METRICS_PORT).status_code == 404
    before = state(sim)
    assert call(app, "POST", "/admin/containers/prune", AUTH, port=METRICS_PORT).status_code \
        == 404
    assert state(sim) == before
    assert call(app, "GET", "/healthz", port=METRICS_PORT).status_code == 200


def test_no_admin_listener_means_no_admin(sim: SimulatorHandle) -> None:
    """Without an admin listener, a token never opens /admin on the metrics port."""
    from dataclasses import replace

    app, _ = make_app(sim)
    router = replace(app, admin_ports=frozenset())  # type: ignore[type-var]
    for port in (ADMIN_PORT, METRICS_PORT):
        assert call(router, "GET", "/admin/", AUTH, port=port).status_code == 404
    landing = call(app, "GET", "/", port=METRICS_PORT).text
    assert "/admin" not in landing


def test_basic_challenge_only_with_admin_users(sim: SimulatorHandle) -> None:
    token_only, _ = make_app(sim)
    challenges = call(token_only, "GET", "/admin/").headers.get_list("www-authenticate")
    assert challenges == ['Bearer realm="podman-exporter admin"']
    with_users, _ = make_app(sim, admin_users={"ops": ADMIN_HASH})
    challenges = call(with_users, "GET", "/admin/").headers.get_list("www-authenticate")
    assert any(c.startswith("Basic") for c in challenges)


def test_several_endpoints_need_the_endpoint_named(tmp_path: Path) -> None:
    with start_simulator(f"unix:{tmp_path}/a.sock", SimOptions(containers=6, seed=1)) as a, \
            start_simulator(f"unix:{tmp_path}/b.sock", SimOptions(containers=6, seed=2)) as b:
        config = Config(podman_api="varlink", podman_timeout=2.0,
                        admin_listen_addresses=(("127.0.0.1", ADMIN_PORT),))
        counted: list[tuple[str, str, str]] = []
        targets = {
            name: AdminTarget(BackendSelector(config, handle.address),
                              lambda action, result, name=name: counted.append(
                                  (name, action, result)), lambda: None)
            for name, handle in (("a", a), ("b", b))}
        app = build_app(config, None, cache=ExpositionCache(MetricOptions()),
                        targets=lambda: targets, token=TOKEN.encode())
        before = {"a": state(a), "b": state(b)}
        unnamed = call(app, "POST", "/admin/containers/prune", AUTH)
        assert unnamed.status_code == 400 and "a, b" in unnamed.json()["error"]
        unknown = call(app, "POST", "/admin/containers/prune?endpoint=c", AUTH)
        assert unknown.status_code == 400 and "no endpoint 'c'" in unknown.json()["error"]
        assert {"a": state(a), "b": state(b)} == before and counted == []
        done = call(app, "POST", "/admin/containers/prune?endpoint=b", AUTH)
        assert done.status_code == 200 and done.json()["endpoint"] == "b"
        assert state(a) == before["a"] and state(b) != before["b"]
        assert counted == [("b", "containers_prune", "success")]
        assert call(app, "GET", "/admin/", AUTH).json()["endpoints"] == ["a", "b"]
