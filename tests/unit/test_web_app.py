"""The ASGI app: routing, negotiation, gzip, the concurrency limit, readiness."""

from __future__ import annotations

import asyncio
import gzip

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from podman_exporter.exposition.render import ExpositionCache
from podman_exporter.metrics.options import MetricOptions
from podman_exporter.snapshot.model import Container, ContainerState
from podman_exporter.snapshot.snapshot import CollectorStatus, Snapshot
from podman_exporter.web.app import MetricsApp, accepts_gzip

OM_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
             "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


def snapshot(up: bool = True) -> Snapshot:
    return Snapshot(
        taken_at=1700000000.0, up=up, api="varlink",
        containers=(Container(id="f" * 64, name='we"b\n', state=ContainerState.RUNNING),),
        collectors=(CollectorStatus("containers", True, 0.01),),
        last_success=1700000000.0 if up else None,
    )


def get(app: MetricsApp, path: str, method: str = "GET", **headers: str) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(method, path, headers=headers)

    return asyncio.run(call())


@pytest.fixture
def cache() -> ExpositionCache:
    cache = ExpositionCache(MetricOptions())
    cache.publish(snapshot())
    return cache


def test_metrics_text_by_default(cache: ExpositionCache) -> None:
    resp = get(MetricsApp(cache), "/metrics", **{"accept-encoding": "identity"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in parse_text(resp.text)}
    assert families["podman_up"].samples[0].value == 1
    info = families["podman_container_info"].samples[0]
    assert info.labels["name"] == 'we"b\n'


def test_metrics_openmetrics_when_prometheus_asks(cache: ExpositionCache) -> None:
    resp = get(MetricsApp(cache), "/metrics", accept=OM_ACCEPT)
    assert resp.headers["content-type"].startswith("application/openmetrics-text")
    assert resp.text.endswith("# EOF\n")
    assert "podman_up" in {f.name for f in parse_om(resp.text)}


def test_gzip_is_the_same_body(cache: ExpositionCache) -> None:
    app = MetricsApp(cache)
    plain = get(app, "/metrics", **{"accept-encoding": "identity"})
    zipped = get(app, "/metrics", **{"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # httpx decodes gzip
    assert cache.current is not None
    assert gzip.decompress(cache.current.text.compress()) == plain.content


@pytest.mark.parametrize(("value", "expected"), [
    ("gzip", True), ("deflate, gzip;q=0.5", True), ("gzip;q=0", False), ("identity", False),
    ("*", True), ("", False), ("br;q=1.0, gzip;q=0.0", False),
])
def test_accepts_gzip(value: str, expected: bool) -> None:
    assert accepts_gzip(value) is expected


def test_routes_and_methods(cache: ExpositionCache) -> None:
    app = MetricsApp(cache)
    assert get(app, "/nope").status_code == 404
    assert get(app, "/admin/containers/prune", "POST").status_code == 404  # admin off
    resp = get(app, "/metrics", "POST")
    assert resp.status_code == 405 and resp.headers["allow"] == "GET, HEAD"
    head = get(app, "/metrics", "HEAD")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) > 0
    assert get(app, "/healthz").text == "ok\n"
    landing = get(app, "/")
    assert "Podman Exporter" in landing.text and 'href="/metrics"' in landing.text
    assert "reachable</span> (varlink)" in landing.text


def test_custom_telemetry_path(cache: ExpositionCache) -> None:
    app = MetricsApp(cache, telemetry_path="/podman/metrics")
    assert get(app, "/podman/metrics").status_code == 200
    assert get(app, "/metrics").status_code == 404


def test_not_ready_until_podman_answered() -> None:
    cache = ExpositionCache(MetricOptions())
    app = MetricsApp(cache)
    assert get(app, "/metrics").status_code == 503
    assert get(app, "/readyz").status_code == 503
    cache.publish(snapshot(up=False))
    assert get(app, "/metrics").status_code == 200
    assert get(app, "/readyz").status_code == 503
    cache.publish(snapshot(up=True))
    assert get(app, "/readyz").status_code == 200


def test_over_the_limit_answers_503(cache: ExpositionCache) -> None:
    app = MetricsApp(cache, max_requests=2)
    app.in_flight = 2  # two requests still being sent
    resp = get(app, "/metrics")
    assert resp.status_code == 503 and resp.headers["retry-after"] == "1"
    app.in_flight = 1
    assert get(app, "/metrics").status_code == 200
    assert app.in_flight == 1


def test_landing_page_never_links_admin(cache: ExpositionCache) -> None:
    """The metrics listener does not advertise the admin endpoint."""
    landing = get(MetricsApp(cache), "/")
    assert "/admin" not in landing.text and "Admin" not in landing.text
