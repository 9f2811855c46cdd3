"""Replay recorded Podman replies through the exporter's real backends and collectors.

Used by tests/unit/test_replay_golden.py. ``replay_of(name)`` builds RestBackend (on a
ReplayHttp instead of the socket pool) or VarlinkBackend (its ``call`` replaced by a
ReplayVarlink), runs every collector in COLLECTORS once through
``CollectionLoop.collect_once()`` and renders the metric families in both formats.

Only what varies between runs is pinned, never a value Podman sent:

- the loop's clock is FIXED_CLOCK (snapshot time, last success);
- ``time.time()`` of the host collector is FIXED_CLOCK as well, so the uptime is the
  midpoint of the range Podman's uptime text stands for (one reading: ``asked`` and
  ``answered`` are equal);
- ``time.perf_counter()`` of the loop is constant, so every collector duration is 0.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from podman_exporter.collect import collectors as collectors_module
from podman_exporter.collect import loop as loop_module
from podman_exporter.collect import runs as runs_module
from podman_exporter.collect.collectors import COLLECTORS
from podman_exporter.collect.loop import CollectionLoop
from podman_exporter.metrics import MetricOptions, served_families
from podman_exporter.podman.backend import PodmanBackend
from podman_exporter.podman.rest import RestBackend
from podman_exporter.podman.rest_http import API_PREFIX, Params, decode, server_version
from podman_exporter.podman.varlink_client import VarlinkBackend
from podman_exporter.snapshot.snapshot import Snapshot

HERE = Path(__file__).resolve().parent
"""The one truth: the 5.8 and 6.0-dev replies are derived from the same recording."""
RECORDINGS = {
    "podman-4.3-rest": ("podman-4.3", "rest"),
    "podman-4.3-varlink": ("podman-4.3", "varlink"),
    "podman-5.8-rest": ("podman-5.8", "rest"),
    "podman-6.0-dev-rest": ("podman-6.0-dev", "rest"),
}
FIXED_CLOCK = 1_800_000_000.0
OPTIONS = MetricOptions(container_labels=("app", "tier"), version="0.0.0-golden",
                        python_version="3.11.0")
Query = tuple[tuple[str, str], ...]


class UnknownRequest(AssertionError):
    """The backend asked for something no recorded file answers."""


def _query(params: Iterable[Iterable[str]]) -> Query:
    """Return a query as sorted pairs: the order of repeated ``containers=`` is Podman's
    business, not the reply's (stats entries are matched by id)."""
    return tuple(sorted((str(k), str(v)) for k, v in params))


class ReplayHttp:
    """An HttpPool stand-in answering GETs from ``<dir>/rest/*.json``.

    A request matches a file by method, path and query (as sorted pairs); anything else
    raises UnknownRequest and is noted in ``unknown``. ``server_version`` is read from the
    recorded ``Server``/``Libpod-Api-Version`` headers by the product's own function.
    """

    def __init__(self, directory: Path, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.server_version = ""
        self.unknown: list[str] = []
        self.answered: list[str] = []
        self._files: dict[tuple[str, str, Query], tuple[str, dict[str, Any]]] = {}
        for path in sorted((directory / "rest").glob("*.json")):
            doc = json.loads(path.read_text())
            key = (doc["method"], doc["path"], _query(doc["query"]))
            if key in self._files:
                raise ValueError(f"{path.name} repeats the request of {self._files[key][0]}")
            self._files[key] = (path.name, doc)

    def request(self, method: str, path: str, params: Params = (), body: bytes | None = None,
                timeout: float | None = None) -> tuple[int, bytes]:
        """Return (status, body) of the recorded reply; raise UnknownRequest if none."""
        pairs = list(params)
        found = self._files.get((method, API_PREFIX + path, _query(pairs)))
        if found is None or body is not None:
            asked = f"{method} {API_PREFIX}{path} {pairs}"
            self.unknown.append(asked)
            raise UnknownRequest(f"no recorded reply for {asked}")
        name, doc = found
        headers = {k.lower(): v for k, v in doc["headers"].items()}
        self.server_version = server_version(headers.get("server"),
                                             headers.get("libpod-api-version"))
        self.answered.append(name)
        return doc["status"], json.dumps(doc["body"]).encode()

    def get_json(self, path: str, params: Params = ()) -> Any:
        """Return the decoded body of a recorded GET, as HttpPool.get_json does."""
        return decode(*self.request("GET", path, params), what=path)

    def close(self) -> None:
        """Nothing to close."""


class ReplayVarlink:
    """A ``VarlinkBackend.call`` stand-in answering from ``<dir>/varlink/*.json``.

    A call matches a file by method and parameters; anything else (or a recorded error
    reply) raises UnknownRequest and is noted in ``unknown``.
    """

    def __init__(self, directory: Path) -> None:
        self.unknown: list[str] = []
        self.answered: list[str] = []
        self._files: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        for path in sorted((directory / "varlink").glob("*.json")):
            doc = json.loads(path.read_text())
            key = (doc["method"].rsplit(".", 1)[-1], json.dumps(doc["parameters"],
                                                               sort_keys=True))
            self._files[key] = (path.name, doc)

    def __call__(self, method: str, *, grace: float = 0.0, **params: Any) -> dict[str, Any]:
        """Return the recorded reply parameters of one call."""
        found = self._files.get((method, json.dumps(params, sort_keys=True)))
        if found is None or "reply" not in found[1]:
            asked = f"{method}({params})"
            self.unknown.append(asked)
            raise UnknownRequest(f"no recorded reply for {asked}")
        self.answered.append(found[0])
        reply: dict[str, Any] = copy.deepcopy(found[1]["reply"])
        return reply


class FrozenTime:
    """Stands in for the ``time`` module in the collect modules (see the module doc)."""

    monotonic = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)

    @staticmethod
    def time() -> float:
        """Return FIXED_CLOCK."""
        return FIXED_CLOCK

    @staticmethod
    def perf_counter() -> float:
        """Return 0.0: every collector took no time."""
        return 0.0


class _Families:
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


@dataclass(frozen=True)
class Replayed:
    """One recording replayed: the snapshot, both expositions, and the fake's log."""

    snapshot: Snapshot
    text: bytes
    openmetrics: bytes
    unknown: list[str]
    answered: list[str]
    samples: dict[str, list[tuple[dict[str, str], float]]] = field(default_factory=dict)

    def value(self, metric: str, **labels: str) -> float | None:
        """Return the value of the one sample of ``metric`` whose labels include
        ``labels``; None when there is none. Two matches fail the test."""
        found = [v for have, v in self.samples.get(metric, [])
                 if all(have.get(k) == want for k, want in labels.items())]
        assert len(found) <= 1, f"{metric}{labels} matches {len(found)} samples"
        return found[0] if found else None


def backend_for(name: str) -> tuple[PodmanBackend, ReplayHttp | ReplayVarlink]:
    """Return the real backend of recording ``name`` on its replaying fake."""
    directory, api = RECORDINGS[name]
    if api == "rest":
        http = ReplayHttp(HERE / directory)
        return RestBackend(f"replay:{directory}", http=http), http
    fake = ReplayVarlink(HERE / directory)
    backend = VarlinkBackend("unix:/nonexistent/replay.sock", connections=4)
    backend.call = fake
    return backend, fake


@cache
def replay_of(name: str) -> Replayed:
    """Return recording ``name`` collected once by the real collectors (cached)."""
    backend, fake = backend_for(name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loop_module, "time", FrozenTime)
        patch.setattr(runs_module, "time", FrozenTime)
        patch.setattr(collectors_module, "time", FrozenTime)
        loop = CollectionLoop(backend=lambda: backend, collectors=COLLECTORS, interval=15.0,
                              max_age=45.0, publish=lambda _: None, clock=FrozenTime.time,
                              endpoint="root")
        try:
            snapshot = loop.collect_once()
        finally:
            loop.stop()
            backend.close()
    families = served_families(snapshot, OPTIONS)
    text = generate_latest(_Families(families))
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            samples.setdefault(s.name, []).append((dict(s.labels), s.value))
    openmetrics = generate_openmetrics(_Families(families))  # type: ignore[no-untyped-call]
    return Replayed(snapshot, text, openmetrics, fake.unknown, fake.answered, samples)
