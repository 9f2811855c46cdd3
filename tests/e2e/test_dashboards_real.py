"""Every dashboard query and rule against a real Prometheus scraping real Podman only.

The exporter of the truth tests' zoo (REST API, real containers: running with limits,
healthy, exited, paused, in a pod) is the one target: a panel that stays empty here is
empty for a REST user, whatever the demo shows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prom_stack import Stack, prometheus_stack, queries, wait
from truth_world import World

pytestmark = [pytest.mark.prometheus, pytest.mark.realpodman]


@pytest.fixture(scope="module")
def real_stack(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Return Prometheus and Alertmanager scraping the REST exporter of the zoo."""
    target = f"127.0.0.1:{world.exporters['rest'].port}"
    with prometheus_stack(tmp_path_factory.mktemp("prom-real"), target) as stack:
        yield stack


def test_every_rule_evaluates_without_error_on_real_podman(real_stack: Stack) -> None:
    loaded = wait(real_stack.rule_evaluations, "rule evaluations",
                  lambda rules: all(r["health"] != "unknown" for r in rules))
    assert len(loaded) == len(queries.rules())
    assert [(r["name"], r.get("lastError")) for r in loaded if r["health"] != "ok"] == []


def test_every_dashboard_query_returns_series_on_real_podman(
        world: World, real_stack: Stack) -> None:
    container = world.zoo.name("healthy")  # running, with a health check and an exit code
    values = {"job": "podman", "instance": real_stack.target, "endpoint": ".+",
              "container": container, "__rate_interval": "10s"}
    all_queries = [q for p in queries.dashboard_files()
                   for q in queries.panel_queries(p) + queries.variable_queries(p)]
    # Rates and recording rules need a few samples: wait until the slowest has data.
    wait(lambda: real_stack.query("instance:podman_container_cpu:ratio5m"), "recording rules")
    empty = [str(q) for q in all_queries
             if not real_stack.query(queries.substitute(q.expr, values))]
    assert empty == [], "dashboard queries empty against real Podman (REST)"
