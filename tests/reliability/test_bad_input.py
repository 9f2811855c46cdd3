"""Bad input: hostile Podman replies through the exporter's real parse -> snapshot ->
families -> exposition path, for the varlink and the REST parsers.

Nothing may escape; the text exposition must parse with the Prometheus text parser
and pass ``promtool check metrics`` (run on a sample of outputs), the OpenMetrics one
with the OpenMetrics parser; bad records are counted and logged, good ones kept.
The short run takes a few hundred examples per API; the soak run 10,000.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from rel_procs import parse
from rel_strategies import (
    CONTAINER_LABEL_KEYS,
    HEX_ID,
    SCHEMAS,
    Generated,
    host_record,
    record,
)

from podman_exporter.exposition.render import render
from podman_exporter.metrics.options import MetricOptions
from podman_exporter.podman import rest_parse, varlink_parse
from podman_exporter.podman.fields import Record, parse_records
from podman_exporter.snapshot.model import Batch, HostInfo
from podman_exporter.snapshot.snapshot import CollectorStatus, Snapshot
from support import require_tool as require

OPTIONS = MetricOptions(container_labels=CONTAINER_LABEL_KEYS, version="0.0.0-test",
                        python_version="3.11.0")
PARSERS: dict[str, dict[str, Callable[[Record], Any]]] = {
    "varlink": {"container": varlink_parse.container, "stats": varlink_parse.stats,
                "size": varlink_parse.size, "image": varlink_parse.image},
    "rest": {"container": rest_parse.container,
             "stats": partial(rest_parse.stats, swapped=False), "size": rest_parse.size,
             "image": rest_parse.image},
}


@dataclass(frozen=True)
class Replies:
    """One collection's worth of generated replies."""

    api: str
    containers: list[Generated]
    stats: list[Generated]
    sizes: list[Generated]
    images: list[Generated]
    info: Any
    version: Any


@st.composite
def replies(draw: st.DrawFn, api: str) -> Replies:
    """Return replies of ``api`` where stats entries share the containers' ids."""
    ids = draw(st.lists(HEX_ID, max_size=6, unique_by=lambda i: i[:12]))
    containers = [draw(record(SCHEMAS[f"{api}.container"], i)) for i in ids]
    stats = [draw(record(SCHEMAS[f"{api}.stats"], i)) for i in ids if draw(st.booleans())]
    sizes = [draw(record(SCHEMAS[f"{api}.size"], i)) for i in ids if draw(st.booleans())]
    image_ids = draw(st.lists(HEX_ID, max_size=4, unique_by=lambda i: i[:12]))
    images = [draw(record(SCHEMAS[f"{api}.image"], i)) for i in image_ids]
    return Replies(api, containers, stats, sizes, images, draw(host_record(api == "rest")),
                   draw(host_record(False)) if api == "varlink" else None)


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _batch(generated: list[Generated], parser: Callable[[Record], Any], kind: str) -> Batch[Any]:
    """Parse a reply and check the bad count and the kept records."""
    batch = parse_records([g.raw for g in generated], parser, kind)
    assert batch.bad == sum(g.bad for g in generated), kind
    assert [getattr(i, "id", None) for i in batch.items] == [
        g.ident for g in generated if g.ident is not None], kind
    return batch


def _host(r: Replies) -> HostInfo | None:
    if r.api == "rest":
        return rest_parse.host_info(Record(r.info)) if isinstance(r.info, dict) else None
    try:
        version: Record | None = Record(r.version)
    except ValueError:
        version = None
    return varlink_parse.host_info(Record(r.info if isinstance(r.info, dict) else {}), version)


def expose(r: Replies) -> str:
    """Return the classic text exposition of the replies, checking every step."""
    counter = _Count()
    logger = logging.getLogger("podman_exporter.podman.fields")
    logger.addHandler(counter)
    try:
        parsers = PARSERS[r.api]
        containers = _batch(r.containers, parsers["container"], "container")
        stats = _batch(r.stats, parsers["stats"], "stats")
        sizes = _batch(r.sizes, parsers["size"], "size")
        images = _batch(r.images, parsers["image"], "image")
        host = _host(r)
    finally:
        logger.removeHandler(counter)
    bad = {"containers": containers.bad, "stats": stats.bad, "sizes": sizes.bad,
           "images": images.bad, "host": 0}
    assert len(counter.messages) == sum(1 for v in bad.values() if v), counter.messages
    snapshot = Snapshot(
        taken_at=1.7e9, up=True, api=r.api, containers=containers.items,
        stats=MappingProxyType({s.id: s for s in stats.items}),
        sizes=MappingProxyType({s.id: s for s in sizes.items}), images=images.items, host=host,
        collectors=tuple(CollectorStatus(name, True, 0.01, 0, n) for name, n in sorted(
            bad.items())), last_success=1.7e9)
    exposition = render(snapshot, OPTIONS)
    text = exposition.text.join().decode("utf-8")
    scrape = parse(text)
    list(parse_openmetrics(exposition.openmetrics.join().decode("utf-8")))  # type: ignore[no-untyped-call]
    info_ids = sorted(s.labels["id"] for s in scrape.get("podman_container_info", []))
    assert info_ids == sorted(c.id[:12] for c in containers.items)
    for name, count in bad.items():
        found = [s.value for s in scrape["podman_exporter_bad_records_total"]
                 if s.labels["collector"] == name]
        assert found == [count], name
    return text


def promtool_check(samples: list[str]) -> None:
    """Run ``promtool check metrics`` on every sample; each must pass."""
    promtool = require("promtool")
    for text in samples:
        proc = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                              capture_output=True, timeout=60, check=False)
        assert proc.returncode == 0, (proc.stdout + proc.stderr).decode()[:2000] + text[:2000]


def run(api: str, profile: str, promtool_samples: int, figures: dict[str, Any]) -> None:
    """Run the property for ``api`` under a hypothesis profile, then promtool on a sample."""
    samples: list[str] = []
    examples = 0

    @settings(settings.get_profile(profile))
    @given(replies(api))
    def prop(r: Replies) -> None:
        nonlocal examples
        text = expose(r)
        examples += 1
        if len(samples) < promtool_samples and (r.containers or r.images):
            samples.append(text)

    started = time.monotonic()
    prop()
    promtool_check(samples)
    figures[f"bad_input.{api}.{profile}"] = {
        "examples": examples, "promtool_checked": len(samples),
        "seconds": round(time.monotonic() - started, 1)}


@pytest.mark.parametrize("api", ["varlink", "rest"])
def test_hostile_replies(api: str, figures: dict[str, Any]) -> None:
    run(api, "reliability-short", 20, figures)


@pytest.mark.soak
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("api", ["varlink", "rest"])
def test_hostile_replies_soak(api: str, figures: dict[str, Any]) -> None:
    run(api, "reliability-soak", 200, figures)
