"""Gzip forms: compressed at most once per join of the served bodies, at the join while
scrapes ask for them, else by the first request that does (and the response is the same
either way)."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

from podman_exporter.exposition.body import Body
from podman_exporter.exposition.render import ASK_MEMORY, ExpositionCache
from podman_exporter.metrics.options import MetricOptions
from podman_exporter.snapshot.model import Container, ContainerState
from podman_exporter.snapshot.snapshot import CollectorStatus, Snapshot
from podman_exporter.web.app import MetricsApp

OM_ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"


def snapshot(at: float) -> Snapshot:
    return Snapshot(taken_at=at, up=True, api="rest",
                    containers=(Container(id="f" * 64, name="web",
                                          state=ContainerState.RUNNING),),
                    collectors=(CollectorStatus("containers", True, 0.01),), last_success=at)


def scrape(app: MetricsApp, accept: str = "", encoding: str = "gzip") -> tuple[dict[bytes, bytes],
                                                                               bytes]:
    """Return the headers and body of one GET /metrics through the ASGI app."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(message: Any) -> None:
        sent.append(message)

    headers = [(b"accept", accept.encode()), (b"accept-encoding", encoding.encode())]
    scope = {"type": "http", "path": "/metrics", "method": "GET", "headers": headers}
    asyncio.run(app(scope, receive, send))
    return dict(sent[0]["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def test_a_body_joins_and_compresses_once_and_only_when_needed() -> None:
    body = Body("text/plain", [b"x" * 10_000, b"y" * 10])
    assert not body.joined and not body.compressed and not body.asked
    assert not body.ready(gzipped=False) and not body.ready(gzipped=True)
    plain = body.response(gzipped=False)
    assert plain == b"x" * 10_000 + b"y" * 10
    assert body.joined and body.asked and not body.gzip_asked and not body.compressed
    assert body.join() is plain
    first = body.response(gzipped=True)
    assert body.compressed and body.gzip_asked and body.ready(gzipped=True)
    assert body.response(gzipped=True) is first
    assert gzip.decompress(first) == plain


def test_gzip_forms_are_compressed_at_the_join_while_asked_for() -> None:
    cache = ExpositionCache(MetricOptions())
    app = MetricsApp(cache)
    cache.publish(snapshot(1.0))
    current = cache.current
    assert current is not None
    assert not current.text.compressed and not current.openmetrics.compressed
    headers, body = scrape(app, accept=OM_ACCEPT)  # compressed by this request
    assert headers[b"content-encoding"] == b"gzip"
    assert gzip.decompress(body) == current.openmetrics.join()
    for n in range(ASK_MEMORY):
        cache.publish(snapshot(2.0 + n))  # no scrape meanwhile: remembered a while
        current = cache.current
        assert current is not None
        assert current.openmetrics.compressed and not current.text.compressed
    cache.publish(snapshot(100.0))
    current = cache.current
    assert current is not None
    assert not current.openmetrics.compressed  # forgotten: left to the next request


def test_a_scrape_of_a_ready_gzip_form_keeps_it_compressed_at_the_join() -> None:
    cache = ExpositionCache(MetricOptions())
    app = MetricsApp(cache)
    for n in range(3 * ASK_MEMORY):
        cache.publish(snapshot(float(n)))
        current = cache.current
        assert current is not None
        assert current.text.compressed is (n > 0)
        headers, body = scrape(app)
        assert gzip.decompress(body) == current.text.join()
    assert current is not None and not current.openmetrics.compressed
    headers, body = scrape(app, encoding="identity")
    assert b"content-encoding" not in headers and body == current.text.join()


def test_only_the_formats_asked_for_lately_are_joined_at_the_join() -> None:
    """A body nobody asks for is not joined: with many endpoints most bodies are
    replaced before a scrape; a scraped format is joined ahead again."""
    cache = ExpositionCache(MetricOptions())
    app = MetricsApp(cache)
    for n in range(ASK_MEMORY):  # joined at first, before any scrape could ask
        cache.publish(snapshot(float(n)))
        current = cache.current
        assert current is not None and current.text.joined and current.openmetrics.joined
    cache.publish(snapshot(50.0))
    current = cache.current
    assert current is not None
    assert not current.text.joined and not current.openmetrics.joined
    headers, body = scrape(app, accept=OM_ACCEPT, encoding="identity")  # joined by it
    assert b"content-encoding" not in headers and body.endswith(b"# EOF\n")
    assert current.openmetrics.joined and not current.text.joined
    cache.publish(snapshot(51.0))
    current = cache.current
    assert current is not None
    assert current.openmetrics.joined and not current.openmetrics.compressed
    assert not current.text.joined
