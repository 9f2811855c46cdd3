"""The admin endpoint against the simulated Podman: auth, actions, errors, limits."""

from __future__ import annotations

import asyncio
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
from podman_exporter.web.asgi import ASGIApp
from podman_exporter.web.webconfig import parse_web_config

TOKEN = "0123456789abcdef-admin-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorHandle]:
    with start_simulator(f"unix:{tmp_path}/podman.sock",
                         SimOptions(containers=20, images=6, seed=3)) as handle:
        yield handle


def make_app(sim: SimulatorHandle, *, token: str | None = TOKEN, rate_limit: int = 1000,
             users: dict[str, str] | None = None) -> tuple[ASGIApp, CollectionLoop]:
    config = Config(podman_url=sim.address, podman_api="varlink", podman_timeout=2.0,
                    collectors=frozenset(s.name for s in COLLECTORS),
                    admin_rate_limit=rate_limit)
    web_config = None
    if users:
        lines = "\n".join(f"  {u}: {h}" for u, h in users.items())
        web_config = parse_web_config(f"basic_auth_users:\n{lines}\n", "web.yml")
    cache = ExpositionCache(MetricOptions())
    backend = BackendSelector(config)
    loop = CollectionLoop(backend=backend, collectors=COLLECTORS, interval=3600, max_age=7200,
                          publish=cache.publish)
    app = build_app(config, web_config, cache=cache, loop=loop, backend=backend,
                    token=token.encode() if token else None)
    return app, loop


def call(app: ASGIApp, method: str, path: str, headers: dict[str, str] | None = None,
         content: bytes = b"") -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://t") as client:
            return await client.request(method, path, headers=headers, content=content)

    return asyncio.run(go())


def state(sim: SimulatorHandle) -> dict[str, object]:
    return {"containers": sorted((c["id"], c["status"]) for c in sim.fleet.list_containers()),
            "images": sorted(i["id"] for i in sim.fleet.list_images())}


def test_off_without_credentials(sim: SimulatorHandle) -> None:
    app, _ = make_app(sim, token=None)
    for method, path in (("GET", "/admin/"), ("POST", "/admin/containers/prune"),
                         ("DELETE", "/admin/images/x")):
        assert call(app, method, path, AUTH).status_code == 404
    assert call(app, "GET", "/healthz").status_code == 200


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


def test_basic_auth_user_can_act(sim: SimulatorHandle) -> None:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    app, _ = make_app(sim, token=None, users={"alice": hashed})
    assert call(app, "GET", "/admin/").status_code == 401
    assert call(app, "GET", "/metrics").status_code == 401  # basic auth guards metrics too
    basic = {"authorization": "Basic " + __import__("base64").b64encode(b"alice:pw").decode()}
    assert call(app, "GET", "/admin/", basic).status_code == 200
    assert call(app, "POST", "/admin/containers/prune?dry_run=true", basic).status_code == 200
    assert call(app, "GET", "/healthz").status_code == 200


def test_success_is_counted_and_triggers_a_collection(sim: SimulatorHandle) -> None:
    app, loop = make_app(sim)
    loop.start()
    try:
        first = loop.collect_once()
        assert call(app, "POST", "/admin/containers/prune", AUTH).status_code == 200
        deadline = time.monotonic() + 10
        text = ""
        while time.monotonic() < deadline:
            text = call(app, "GET", "/metrics").text
            if 'podman_exporter_admin_actions_total{action="containers_prune"' in text:
                break
            time.sleep(0.1)
        assert 'action="containers_prune",result="success"} 1.0' in text
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
    assert resp.status_code in (401, 404, 405, 400, 429)
    assert state(sim) == before


def test_admin_only_on_its_own_listener(sim: SimulatorHandle) -> None:
    """--admin.listen-address: /admin answers only there, and only /admin does."""
    from dataclasses import replace

    app, _ = make_app(sim)
    assert hasattr(app, "admin_ports")
    router = replace(app, admin_ports=frozenset({9883}))  # type: ignore[type-var]

    def on(port: int, method: str, path: str) -> int:
        async def go() -> int:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=router),
                                         base_url=f"http://t:{port}") as client:
                return (await client.request(method, path, headers=AUTH)).status_code

        return asyncio.run(go())

    assert on(9883, "GET", "/admin/") == 200
    assert on(9883, "POST", "/admin/containers/prune?dry_run=true") == 200
    assert on(9883, "GET", "/metrics") == 404
    assert on(9882, "GET", "/admin/") == 404
    assert on(9882, "POST", "/admin/containers/prune") == 404
    assert on(9882, "GET", "/healthz") == 200
