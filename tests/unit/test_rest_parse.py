"""REST record parsing: real Podman 4.3 shapes, malformed records, times, health."""

from __future__ import annotations

import copy
import json
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podman_exporter.podman import rest_parse as parse
from podman_exporter.podman.fields import Record, parse_records
from podman_exporter.snapshot.model import ContainerState, Health, PodState

# Trimmed from a real Podman 4.3.1 ``containers/json?all=true`` reply.
CONTAINER: dict[str, Any] = {
    "AutoRemove": False, "Command": ["sleep", "1000"],
    "Created": "2026-11-27T05:07:59.021332922Z", "CreatedAt": "", "Exited": True,
    "ExitedAt": 1795756080, "ExitCode": 3,
    "Id": "85f170192d2596454a2d778ec5a15d0eba077fbb8071ad5e974116ce3ce0d88b",
    "Image": "localhost/busybox:test",
    "ImageID": "9224431221cfb0b50cbbaae8368b37e9454cecca2cd5dc3be5a0db45786ecc2b",
    "IsInfra": False, "Labels": {"app": "shop"}, "Mounts": [], "Names": ["e3"],
    "Namespaces": {}, "Networks": ["podman"], "Pid": 0,
    "Pod": "252ce909c2c2f41dd8bd4c4fcf969b3cef7161bce3871e1b56e5d99667e21d81",
    "PodName": "pod1",
    "Ports": [{"host_ip": "127.0.0.1", "container_port": 80, "host_port": 18080, "range": 1,
               "protocol": "tcp"}],
    "Size": None, "StartedAt": 1795756079, "State": "exited", "Status": "",
}
STATS: dict[str, Any] = {
    "AvgCPU": 0.56, "ContainerID": "1c580e81472286ad", "Name": "p1", "PerCPU": [1, 2],
    "CPU": 0.56, "CPUNano": 24885140, "CPUSystemNano": 15973241,
    "SystemNano": 1795756084201998448, "MemUsage": 348160, "MemLimit": 25276502016,
    "MemPerc": 0.0013, "NetInput": 516, "NetOutput": 1552, "BlockInput": 0, "BlockOutput": 7,
    "PIDs": 1, "UpTime": 24885140, "Duration": 24885140,
}


def test_container_from_real_reply() -> None:
    c = parse.container(Record(CONTAINER))
    assert (c.name, c.state, c.exit_code, c.health) == ("e3", ContainerState.EXITED, 3,
                                                        Health.UNKNOWN)
    assert c.created == pytest.approx(1795756079.021332922, abs=1e-6)
    assert (c.started, c.exited) == (1795756079.0, 1795756080.0)
    assert (c.pod_id, c.pod_name, dict(c.labels)) == (CONTAINER["Pod"], "pod1", {"app": "shop"})
    assert [p.render() for p in c.ports] == ["127.0.0.1:18080->80/tcp"]
    size = parse.size(Record(CONTAINER))
    assert (size.rootfs_bytes, size.rw_bytes) == (None, None)  # no size=true: unknown


@pytest.mark.parametrize(("status", "health"), [
    ("healthy", Health.HEALTHY), ("unhealthy", Health.UNHEALTHY),
    ("starting", Health.STARTING), ("", Health.UNKNOWN)])
def test_health_from_status(status: str, health: Health) -> None:
    assert parse.container(Record({**CONTAINER, "Status": status})).health is health


def test_go_zero_time_is_unknown() -> None:
    raw = {**CONTAINER, "StartedAt": -62135596800, "ExitedAt": -62135596800,
           "Created": "0001-01-01T00:00:00Z"}
    c = parse.container(Record(raw))
    assert (c.created, c.started, c.exited) == (None, None, None)


def test_port_range_and_docker_shape() -> None:
    ranged = {**CONTAINER, "Ports": [{"host_ip": "", "container_port": 80, "host_port": 8080,
                                      "range": 3, "protocol": "udp"}]}
    assert [p.render() for p in parse.container(Record(ranged)).ports] == [
        "0.0.0.0:8080-8082->80-82/udp"]
    docker = {**CONTAINER, "Ports": [{"IP": "0.0.0.0", "PrivatePort": 443, "PublicPort": 8443,
                                      "Type": "tcp"}]}
    assert [p.render() for p in parse.container(Record(docker)).ports] == [
        "0.0.0.0:8443->443/tcp"]


def test_malformed_container_counted_rest_kept() -> None:
    no_id = {k: v for k, v in CONTAINER.items() if k != "Id"}
    bad_exit = {**CONTAINER, "Id": "b" * 64, "ExitCode": "three"}
    good = {**CONTAINER, "Id": "c" * 64}
    batch = parse_records([no_id, "junk", bad_exit, good], parse.container, "container")
    assert [c.id for c in batch.items] == ["b" * 64, "c" * 64]
    assert batch.bad == 3  # two dropped, one kept without its exit code
    assert batch.items[0].exit_code is None
    assert batch.items[0].state is ContainerState.EXITED


def test_stats_from_counters() -> None:
    s = parse.stats(Record(STATS), swapped=False)
    assert s.cpu_seconds == pytest.approx(0.02488514)
    assert s.cpu_system_seconds == pytest.approx(0.015973241)
    assert (s.mem_usage_bytes, s.mem_limit_bytes, s.block_output_bytes, s.pids) == (
        348160, 25276502016, 7, 1)
    broken = parse_records([{**STATS, "MemUsage": -5}, {"CPUNano": 1}],
                           partial(parse.stats, swapped=False), "stats")
    assert broken.bad == 2 and len(broken.items) == 1
    assert broken.items[0].mem_usage_bytes is None


def test_image_pod_volume_info() -> None:
    image = parse.image(Record({"Id": "9224", "ParentId": "", "RepoTags": ["localhost/b:t"],
                                "RepoDigests": None, "Created": 1795756077, "Size": 1997895,
                                "VirtualSize": 1997895, "Labels": None, "Containers": 7}))
    assert (image.size_bytes, image.created, image.containers, image.repo_digests) == (
        1997895, 1795756077.0, 7, ())
    pod = parse.pod(Record({"Id": "252c", "Name": "pod1", "InfraId": "a775",
                            "Status": "Degraded", "Containers": [{"Id": "1"}, {"Id": "2"}]}))
    assert (pod.state, pod.containers, pod.infra_id) == (PodState.DEGRADED, 2, "a775")
    vol = parse.volume(Record({"Name": "v", "Driver": "local", "Mountpoint": "/x/_data"}))
    assert (vol.name, vol.driver, vol.mount_point) == ("v", "local", "/x/_data")
    info = parse.host_info(Record({
        "host": {"memTotal": 100, "memFree": 40, "cpus": 2, "hostname": "vm",
                 "uptime": "1h 2m 3.00s (Approximately 0.04 days)"},
        "store": {"containerStore": {"number": 8}, "imageStore": {"number": "two"}},
        "version": {"Version": "4.3.1"}}))
    assert (info.mem_total_bytes, info.cpus, info.uptime_ranges, info.store_containers,
            info.store_images, info.version.version) == (100, 2, ((3723, 3724),), 8, None,
                                                         "4.3.1")


def test_unix_seconds() -> None:
    assert parse.unix_seconds(None) is None
    assert parse.unix_seconds(0) is None
    assert parse.unix_seconds(-62135596800) is None
    assert parse.unix_seconds(1795756079) == 1795756079.0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=10)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(sorted(CONTAINER)), json_values))
def test_any_field_garbage_never_raises(overrides: dict[str, Any]) -> None:
    """Whatever the field values, a container is parsed or counted bad: never an exception."""
    raw = copy.deepcopy(CONTAINER)
    raw.update(overrides)
    batch = parse_records([raw, CONTAINER], parse.container, "container")
    assert batch.items[-1].name == "e3"
    if isinstance(raw.get("Id"), str) and raw["Id"]:
        assert len(batch.items) == 2 and batch.items[0].id == raw["Id"]
    else:
        assert len(batch.items) == 1 and batch.bad == 1


IMAGE: dict[str, Any] = {"Id": "9224", "ParentId": "", "RepoTags": ["localhost/b:t"],
                         "RepoDigests": None, "Created": 1795756077, "Size": 1997895,
                         "VirtualSize": 1997895, "Labels": None, "Containers": 7}
HUGE = [10**400, -(10**400), 2**64 + 1, json.loads("1e400"), json.loads("-1e400")]


@pytest.mark.parametrize("huge", HUGE, ids=["1e400-int", "-1e400-int", "2^64+1", "1e400", "-1e400"])
@pytest.mark.parametrize(("record", "parser", "kind", "used"), [
    (CONTAINER, parse.container, "container", ["ExitCode", "StartedAt", "ExitedAt"]),
    (STATS, None, "stats", ["MemUsage", "CPUNano", "NetInput", "BlockOutput", "PIDs"]),
    (IMAGE, parse.image, "image", ["Created", "Size", "Containers"])],
    ids=["container", "stats", "image"])
def test_huge_numbers_are_a_bad_field_of_their_record(
        record: dict[str, Any], parser: Any, kind: str, used: list[str], huge: object) -> None:
    """A number past 64 bits (OverflowError in any float conversion) costs the field, not
    the batch: the record is kept (or dropped alone, if it is its id) and counted bad."""
    parser = parser or partial(parse.stats, swapped=False)
    numeric = [k for k, v in record.items() if isinstance(v, int) and not isinstance(v, bool)]
    assert numeric
    ident = "ContainerID" if kind == "stats" else "Id"
    for key in [*numeric, ident]:
        batch = parse_records([{**record, key: huge}, record], parser, kind)
        assert batch.bad == (1 if key in used or key == ident else batch.bad) <= 1, key
        assert len(batch.items) == (1 if key == ident else 2), key
