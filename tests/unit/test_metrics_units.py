"""Behaviour of build_families: container label names, images, containers."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from types import MappingProxyType

import pytest
from metrics_support import BUILT_IN, LABEL_NAME, OPTIONS, container, names, series

from podman_exporter.metrics import MetricOptions, build_families
from podman_exporter.metrics.images import split_repo_tag
from podman_exporter.metrics.labels import container_label_names
from podman_exporter.snapshot.model import (
    ContainerState,
    ContainerStats,
    Health,
    Image,
)
from podman_exporter.snapshot.snapshot import Snapshot

# --- container label names -------------------------------------------------


def test_valid_keys_keep_their_name_and_others_get_suffixes() -> None:
    pairs = dict(container_label_names(("io.podman/tier", "io_podman_tier", "app", "a-b", "a.b")))
    assert pairs == {
        "app": "label_app",
        "io_podman_tier": "label_io_podman_tier",
        "io.podman/tier": "label_io_podman_tier_2",
        "a-b": "label_a_b",
        "a.b": "label_a_b_2",
    }


@pytest.mark.parametrize(
    "keys",
    [
        ("a.b", "a_b", "a_b_2", "a-b", "", "ü", "__x", "id", "name", "a.b"),
        ("x", "x_2", "x.", "x-", "x/"),
    ],
)
def test_label_names_are_valid_distinct_and_order_independent(keys: tuple[str, ...]) -> None:
    orders = [keys[::-1], *itertools.islice(itertools.permutations(keys), 200)]
    for seed in range(50):
        shuffled = list(keys)
        random.Random(seed).shuffle(shuffled)
        orders.append(tuple(shuffled))
    results = {container_label_names(order) for order in orders}
    assert len(results) == 1
    pairs = results.pop()
    assert sorted(k for k, _ in pairs) == sorted(set(keys))
    label_names = [n for _, n in pairs]
    assert len(set(label_names)) == len(label_names)
    for n in label_names:
        assert LABEL_NAME.fullmatch(n) and not n.startswith("__") and n not in BUILT_IN


def test_container_labels_on_info_only() -> None:
    c = container("a", "web", labels=MappingProxyType({"com.example/team": "t1"}))
    snap = Snapshot(taken_at=1.0, up=True, containers=(c,))
    families = build_families(snap, MetricOptions(container_labels=("com.example/team", "x")))
    [(labels, _)] = series(families, "podman_container_info")
    assert labels["label_com_example_team"] == "t1"
    assert labels["label_x"] == ""
    [(state_labels, _)] = series(families, "podman_container_state")
    assert set(state_labels) == {"id", "name", "pod_id", "pod_name"}


# --- images -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("docker.io/library/nginx:1.25", ("docker.io/library/nginx", "1.25")),
        ("localhost:5000/nginx:latest", ("localhost:5000/nginx", "latest")),
        ("localhost:5000/nginx", ("localhost:5000/nginx", "<none>")),
        ("alpine", ("alpine", "<none>")),
        ("quay.io/x:1@sha256:" + "ab" * 32, ("quay.io/x", "1")),
        ("<none>:<none>", ("<none>", "<none>")),
        ("a:b:c", ("a:b", "c")),
    ],
)
def test_split_repo_tag(text: str, expected: tuple[str, str]) -> None:
    assert split_repo_tag(text) == expected


def test_image_series_per_tag_untagged_and_deduplicated() -> None:
    tagged = Image(
        id="sha256:" + "1" * 64,
        repo_tags=("r/b:2", "r/a:1", "r/b:2"),
        repo_digests=("r/a@sha256:dd",),
        digest="sha256:dd",
        size_bytes=10,
    )
    untagged = Image(id="0" * 64, parent_id="1" * 64, size_bytes=5, containers=0)
    families = build_families(Snapshot(1.0, True, images=(tagged, untagged)), OPTIONS)
    info = series(families, "podman_image_info")
    assert [(d["id"], d["repository"], d["tag"], d["digest"]) for d, _ in info] == [
        ("000000000000", "<none>", "<none>", ""),
        ("111111111111", "r/a", "1", "sha256:dd"),
        ("111111111111", "r/b", "2", "sha256:dd"),  # the image's digest, as the Go exporter
    ]
    assert info[0][0]["parent_id"] == "111111111111"
    assert [v for _, v in series(families, "podman_image_size")] == [5, 10, 10]
    assert len(series(families, "podman_image_containers")) == 1  # None is absent
    assert series(families, "podman_image_created_seconds") == []


# --- containers ---------------------------------------------------------------


def test_order_is_by_name_then_id_whatever_the_input_order() -> None:
    cs = [container("b", "web"), container("a", "web"), container("c", "db")]
    outputs = set()
    for perm in itertools.permutations(cs):
        families = build_families(Snapshot(1.0, True, containers=tuple(perm)), OPTIONS)
        info = series(families, "podman_container_info")
        outputs.add(tuple((d["name"], d["id"]) for d, _ in info))
    assert outputs == {(("db", "c" * 12), ("web", "a" * 12), ("web", "b" * 12))}


def test_duplicates_are_dropped_first_record_wins() -> None:
    first = container("a", "web", state=ContainerState.RUNNING, image="one")
    again = replace(first, id="a" * 12 + "z", state=ContainerState.EXITED, image="two")
    families = build_families(Snapshot(1.0, True, containers=(again, first, first)), OPTIONS)
    [(info, _)] = series(families, "podman_container_info")
    assert info["image"] == "one"  # the full id "aaa...a" sorts before "aaa...az"
    assert series(families, "podman_container_state") == [
        ({"id": "a" * 12, "name": "web", "pod_id": "", "pod_name": ""}, 2)
    ]


def test_state_health_and_rest_only_fields() -> None:
    rest = container(
        "a",
        "r",
        state=ContainerState.PAUSED,
        exit_code=3,
        started=5.0,
        exited=None,
        health=Health.STARTING,
    )
    varlink = container("b", "v", state=ContainerState.EXITED)
    families = build_families(Snapshot(1.0, True, containers=(rest, varlink)), OPTIONS)
    by_name = {d["name"]: v for d, v in series(families, "podman_container_state")}
    assert by_name == {"r": 4, "v": 5}
    assert [(d["name"], v) for d, v in series(families, "podman_container_exit_code")] == [("r", 3)]
    assert [(d["name"], v) for d, v in series(families, "podman_container_health")] == [("r", 2)]
    assert len(series(families, "podman_container_started_seconds")) == 1
    assert "podman_container_exited_seconds" not in names(families)
    assert "podman_container_rootfs_size_bytes" not in names(families)


def test_stats_only_for_listed_containers_with_stats() -> None:
    running, stopped = container("a", "run"), container("b", "stop")
    stats = MappingProxyType(
        {
            running.id: ContainerStats(running.id, cpu_seconds=1.5, mem_usage_bytes=None, pids=3),
            "gone": ContainerStats("gone", cpu_seconds=9.0),
        }
    )
    snap = Snapshot(1.0, True, containers=(running, stopped), stats=stats)
    families = build_families(snap, OPTIONS)
    assert series(families, "podman_container_cpu_seconds_total") == [
        ({"id": "a" * 12, "name": "run", "pod_id": "", "pod_name": ""}, 1.5)
    ]
    assert [v for _, v in series(families, "podman_container_pids")] == [3]
    assert "podman_container_mem_usage_bytes" not in names(families)
    no_list = build_families(replace(snap, containers=None), OPTIONS)
    assert not any(n.startswith("podman_container_") for n in names(no_list))


def test_ports_as_podman_ps_shows_them() -> None:
    from podman_exporter.snapshot.model import PortMapping

    ports = (
        PortMapping("", "9090", "90", "udp"),
        PortMapping("127.0.0.1", "8080", "80", "tcp,udp"),
    )
    families = build_families(
        Snapshot(1.0, True, containers=(container("a", "p", ports=ports),)), OPTIONS
    )
    [(info, _)] = series(families, "podman_container_info")
    # Podman's order, empty host address as 0.0.0.0, one entry per protocol, ", " between:
    # the Go exporter's format.
    assert info["ports"] == (
        "0.0.0.0:9090->90/udp, 127.0.0.1:8080->80/tcp, 127.0.0.1:8080->80/udp")


def test_vanished_containers_vanish() -> None:
    a, b = container("a", "a"), container("b", "b")
    before = build_families(Snapshot(1.0, True, containers=(a, b)), OPTIONS)
    after = build_families(Snapshot(2.0, True, containers=(a,)), OPTIONS)
    assert len(series(before, "podman_container_info")) == 2
    assert [d["name"] for d, _ in series(after, "podman_container_info")] == ["a"]
