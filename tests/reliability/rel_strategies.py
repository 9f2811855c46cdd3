"""Hypothesis strategies for hostile Podman replies (varlink and REST), as JSON decodes them.

Each generated record knows what the exporter must make of it: ``kept`` (its identity
is usable, so the record is kept) and ``bad`` (something in it is malformed, so it is
counted). Values are JSON-shaped: str (any code point, lone surrogates included),
int (huge and negative too), float (NaN and infinities too), bool, None, list, dict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

HOSTILE = st.sampled_from([
    '"', "\\", "\n", "\\n", '\\"', "}", "{", "=", ",", "é", "\u2028", "\x00", "\ud800",
    "label_app", "__name__", "id", 'a"b\\c\nd', "💥", " ", "",
])
TEXT = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=16),
    st.lists(HOSTILE, max_size=6).map("".join),
    st.text(st.sampled_from("ab\\\"\n{}=,é"), min_size=200, max_size=2000),
)
HEX_ID = st.text(st.sampled_from("0123456789abcdef"), min_size=64, max_size=64)
CLASHING_KEYS = st.sampled_from([
    "id", "name", "image", "__name__", "label_app", "app", "a-b", "a.b", "a_b", "le",
    "quantile", "\ud800", "é", "", "label_a_b", "1x",
])
LABEL_MAP = st.dictionaries(st.one_of(CLASHING_KEYS, TEXT), TEXT, max_size=6)
CONTAINER_LABEL_KEYS = ("app", "a-b", "a.b", "a_b", "id", "name", "__name__", "é", "1x")
"""--collector.container.labels of the test: keys that clash once sanitised."""

JSON_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-(2**80), 2**80),
                        st.floats(allow_nan=True, allow_infinity=True), TEXT)
JSON = st.recursive(JSON_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=8)
NOT_A_STRING = st.one_of(st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
                         st.lists(JSON_SCALAR, max_size=2), st.dictionaries(TEXT, JSON_SCALAR,
                                                                            max_size=2))
NOT_A_COUNT = st.one_of(
    st.integers(-(2**70), -1), st.sampled_from([math.nan, math.inf, -math.inf, 1.5, -0.5]),
    st.booleans(), TEXT, st.lists(JSON_SCALAR, max_size=2), st.dictionaries(TEXT, JSON_SCALAR,
                                                                            max_size=2))
GO_TIMES = st.sampled_from([
    "2018-05-10 13:41:23.123456789 -0500 CDT",
    "2019-01-02 03:04:05 +0000 UTC",
    "2018-05-10 13:41:23.1 +0200 CEST m=+0.001",
])


@dataclass(frozen=True)
class Kind:
    """A field type: values that are fine, and values that must be counted as bad."""

    good: st.SearchStrategy[Any]
    bad: st.SearchStrategy[Any]


TEXT_KIND = Kind(st.one_of(TEXT, st.none()), NOT_A_STRING)
# Podman's numbers are Go int64 or uint64: wider integers are bad input.
TOO_WIDE = st.one_of(st.integers(2**64, 2**70), st.integers(-(2**70), -(2**63) - 1))
COUNT = Kind(st.one_of(st.integers(0, 2**64 - 1), st.none(), st.just(0.0), st.just(3.0)),
             st.one_of(NOT_A_COUNT, TOO_WIDE))
INTEGER = Kind(st.one_of(st.integers(-(2**63), 2**64 - 1), st.none()),
               st.one_of(st.floats(), st.booleans(), TEXT, TOO_WIDE))
LABELS = Kind(st.one_of(LABEL_MAP, st.none()), st.one_of(
    st.lists(TEXT, min_size=1, max_size=2), st.integers(),
    st.dictionaries(TEXT, st.one_of(st.integers(), st.none()), min_size=1, max_size=2)))
TEXTS = Kind(st.one_of(st.lists(TEXT, max_size=3), TEXT, st.none()),
             st.one_of(st.lists(st.integers(), min_size=1, max_size=2), st.integers(),
                       st.dictionaries(TEXT, TEXT, max_size=1)))
GO_TIME = Kind(st.one_of(GO_TIMES, st.none(), st.just("")),
               st.one_of(st.text(st.sampled_from("abc:- 1"), min_size=1, max_size=20),
                         NOT_A_STRING))
STATE = Kind(st.one_of(st.sampled_from(["running", "exited", "paused", "created", "configured",
                                        "unknown", "stopping"]), TEXT), NOT_A_STRING)
VARLINK_PORTS = Kind(
    st.one_of(st.none(), st.lists(st.fixed_dictionaries({
        "host_port": TEXT, "container_port": TEXT, "protocol": TEXT, "host_ip": TEXT}),
        max_size=3)),
    st.one_of(TEXT.filter(bool), st.lists(st.integers(), min_size=1, max_size=2)))
SUB = Kind(st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    "rootFsSize": st.integers(0, 2**64 - 1), "rwSize": st.integers(0, 2**64 - 1)})),
    st.one_of(TEXT, st.integers(), st.lists(st.integers(), min_size=1, max_size=2)))


@dataclass(frozen=True)
class Schema:
    """One record type of one API: its identity key and its typed fields."""

    identity: str
    fields: Mapping[str, Kind]


SCHEMAS: Mapping[str, Schema] = {
    "varlink.container": Schema("id", {
        "image": TEXT_KIND, "imageid": TEXT_KIND, "status": STATE, "names": TEXTS,
        "labels": LABELS, "createdat": GO_TIME, "ports": VARLINK_PORTS}),
    "varlink.size": Schema("id", {"rootfssize": COUNT, "rwsize": COUNT}),
    "varlink.stats": Schema("id", {k: COUNT for k in (
        "cpu_nano", "system_nano", "mem_usage", "mem_limit", "net_input", "net_output",
        "block_input", "block_output", "pids")}),
    "varlink.image": Schema("id", {
        "parentId": TEXT_KIND, "repoTags": TEXTS, "repoDigests": TEXTS, "created": GO_TIME,
        "size": COUNT, "virtualSize": COUNT, "containers": COUNT, "labels": LABELS}),
    "rest.container": Schema("Id", {
        "Image": TEXT_KIND, "ImageID": TEXT_KIND, "State": STATE, "Status": TEXT_KIND,
        "Names": TEXTS, "Labels": LABELS, "Created": TEXT_KIND, "Pod": TEXT_KIND,
        "PodName": TEXT_KIND, "ExitCode": INTEGER, "StartedAt": INTEGER, "ExitedAt": INTEGER}),
    "rest.size": Schema("Id", {"Size": SUB}),
    "rest.stats": Schema("ContainerID", {k: COUNT for k in (
        "CPUNano", "CPUSystemNano", "MemUsage", "MemLimit", "NetInput", "NetOutput",
        "BlockInput", "BlockOutput", "PIDs")}),
    "rest.image": Schema("Id", {
        "ParentId": TEXT_KIND, "RepoTags": TEXTS, "RepoDigests": TEXTS, "Created": INTEGER,
        "Size": COUNT, "Containers": COUNT, "Labels": LABELS}),
}


@dataclass(frozen=True)
class Generated:
    """One generated record (any JSON value) and what the exporter must make of it."""

    raw: Any
    ident: str | None
    """The identity when the record must be kept, else None."""
    bad: bool


BAD_IDENTITY = st.one_of(st.none(), st.just(""), NOT_A_STRING)


@st.composite
def record(draw: st.DrawFn, schema: Schema, ident: str) -> Generated:
    """Return a record of ``schema``: fields good, bad, missing or extra, the identity
    ``ident`` or a broken one, or no object at all."""
    shape = draw(st.sampled_from(["good", "good", "fields", "fields", "identity", "not_object"]))
    if shape == "not_object":
        return Generated(draw(st.one_of(st.none(), TEXT, st.integers(), st.lists(JSON_SCALAR,
                                                                                 max_size=2))),
                         None, True)
    raw: dict[str, Any] = {}
    bad = False
    for key, kind in schema.fields.items():
        choice = draw(st.sampled_from(["good", "good", "missing", "bad"]))
        if choice == "bad" and shape == "fields":
            raw[key], bad = draw(kind.bad), True
        elif choice != "missing":
            raw[key] = draw(kind.good)
    extra = draw(st.dictionaries(TEXT.filter(lambda k: k not in schema.fields), JSON,
                                 max_size=3))
    raw.update({k: v for k, v in extra.items() if k != schema.identity})
    if shape == "identity":
        broken = draw(st.one_of(BAD_IDENTITY, st.just(_MISSING)))
        if broken is not _MISSING:
            raw[schema.identity] = broken
        return Generated(raw, None, True)
    raw[schema.identity] = ident
    return Generated(raw, ident, bad)


_MISSING = object()


def records(schema: Schema, max_size: int = 6) -> st.SearchStrategy[list[Generated]]:
    """Return lists of records of ``schema`` with distinct identities."""
    return st.lists(HEX_ID, max_size=max_size, unique_by=lambda i: i[:12]).flatmap(
        lambda ids: st.tuples(*(record(schema, i) for i in ids)).map(list))


def host_record(rest: bool) -> st.SearchStrategy[Any]:
    """Return host info replies: the right nesting with any values, or anything at all."""
    def section(keys: list[str]) -> st.SearchStrategy[Any]:
        return st.one_of(JSON, st.fixed_dictionaries({}, optional=dict.fromkeys(keys, JSON)))

    host = ["hostname", "kernel", "os", "arch", "cpus", "uptime",
            *(["memTotal", "memFree", "swapTotal", "swapFree"] if rest else
              ["mem_total", "mem_free", "swap_total", "swap_free"])]
    store = ["graphDriverName", "graphRoot", "runRoot", "containerStore", "imageStore"] if rest \
        else ["graph_driver_name", "graph_root", "run_root", "containers", "images"]
    third = ("version", ["Version", "GoVersion", "GitCommit", "OsArch"]) if rest else \
        ("podman", ["podman_version", "go_version", "git_commit"])
    return st.one_of(JSON, st.fixed_dictionaries({}, optional={
        "host": section(host), "store": section(store), third[0]: section(third[1])}))
