"""The Go exporter's metrics we add: network packets, errors and drops, pod and volume
creation times, networks, component versions, and Go-style container label names."""

from __future__ import annotations

import copy
import itertools
import json
from types import MappingProxyType
from typing import Any

import pytest
from metrics_support import BUILT_IN, LABEL_NAME, container, series

from podman_exporter.metrics import MetricOptions, build_families
from podman_exporter.metrics.host import host_families
from podman_exporter.metrics.labels import container_label_names
from podman_exporter.metrics.networks import labels_text, network_families
from podman_exporter.metrics.pods import pod_families, volume_families
from podman_exporter.podman import rest_parse as parse
from podman_exporter.podman import varlink_parse
from podman_exporter.podman.backend import Unsupported
from podman_exporter.podman.fields import Record, parse_records
from podman_exporter.podman.varlink_client import VarlinkBackend
from podman_exporter.snapshot.model import (
    ContainerState,
    ContainerStats,
    HostInfo,
    Network,
    Pod,
    Volume,
)
from podman_exporter.snapshot.snapshot import Snapshot
from replies.recorded import RECORDING, body

INTERFACE = {"RxBytes": 1000, "RxDropped": 1, "RxErrors": 2, "RxPackets": 10,
             "TxBytes": 3000, "TxDropped": 3, "TxErrors": 4, "TxPackets": 30}
STATS_5: dict[str, Any] = {
    "ContainerID": "1c580e81472286ad", "Name": "p1", "CPUNano": 24885140,
    "CPUSystemNano": 15973241, "MemUsage": 348160, "MemLimit": 25276502016,
    "Network": {"eth0": INTERFACE, "eth1": {k: v * 2 for k, v in INTERFACE.items()}},
    "BlockInput": 0, "BlockOutput": 7, "PIDs": 1,
}


# --- network counters -----------------------------------------------------------------


def test_network_map_counters_are_summed_over_interfaces() -> None:
    stats = parse.stats(Record(STATS_5), swapped=False)
    assert (stats.net_input_bytes, stats.net_output_bytes) == (3000, 9000)
    assert (stats.net_input_packets, stats.net_input_errors, stats.net_input_dropped) == (30, 6, 3)
    assert (stats.net_output_packets, stats.net_output_errors,
            stats.net_output_dropped) == (90, 12, 9)


def test_a_counter_one_interface_lacks_is_absent_and_the_record_kept() -> None:
    raw = copy.deepcopy(STATS_5)
    del raw["Network"]["eth1"]["TxErrors"]
    raw["Network"]["eth0"]["RxDropped"] = "many"
    batch = parse_records([raw], lambda r: parse.stats(r, swapped=False), "stats")
    (stats,) = batch.items
    assert stats.net_output_errors is None and stats.net_input_dropped is None
    assert stats.net_input_packets == 30 and stats.net_output_packets == 90
    assert batch.bad == 1


def test_without_a_network_map_only_bytes_are_known() -> None:
    """Podman 4 sends NetInput/NetOutput and no packet, error or drop counts."""
    raw = {**{k: v for k, v in STATS_5.items() if k != "Network"},
           "NetInput": 516, "NetOutput": 1552}
    stats = parse.stats(Record(raw), swapped=True)
    assert (stats.net_input_bytes, stats.net_output_bytes) == (1552, 516)
    assert {stats.net_input_packets, stats.net_input_errors, stats.net_input_dropped,
            stats.net_output_packets, stats.net_output_errors,
            stats.net_output_dropped} == {None}


def test_an_empty_network_map_counts_zero() -> None:
    stats = parse.stats(Record({**STATS_5, "Network": {}}), swapped=False)
    assert stats.net_input_packets == 0 and stats.net_output_dropped == 0


def test_packet_families_follow_the_go_names_and_are_absent_when_unknown() -> None:
    web, db = container("a", "web", state=ContainerState.RUNNING), container("b", "db")
    stats = {web.id: parse.stats(Record({**STATS_5, "ContainerID": web.id}), swapped=False),
             db.id: ContainerStats(id=db.id, net_input_bytes=5, net_output_bytes=6)}
    snap = Snapshot(taken_at=0.0, up=True, containers=(web, db),
                    stats=MappingProxyType(stats))
    families = build_families(snap, MetricOptions())
    expected = {"input_packets": 30, "input_errors": 6, "input_dropped": 3,
                "output_packets": 90, "output_errors": 12, "output_dropped": 9}
    for suffix, value in expected.items():
        got = series(families, f"podman_container_net_{suffix}_total")
        assert got == [({"id": "a" * 12, "name": "web", "pod_id": "", "pod_name": ""}, value)]
    kinds = {f.name: f.type for f in families}
    assert kinds["podman_container_net_input_packets"] == "counter"


# --- pods, volumes, networks -------------------------------------------------------------


def test_pod_and_volume_creation_times_come_from_the_replies() -> None:
    (pod,) = [parse.pod(Record(p)) for p in body("pods")]
    (volume,) = [parse.volume(Record(v)) for v in body("volumes")]
    assert pod.created == pytest.approx(1796174309.352613)  # 2026-12-02T01:18:29.352613223Z
    assert volume.created == pytest.approx(1796174308.920523)
    raw = {**body("pods")[0], "Created": "0001-01-01T00:00:00Z"}
    assert parse.pod(Record(raw)).created is None
    assert parse.volume(Record({"Name": "v", "CreatedAt": "soon"})).created is None


def test_creation_times_are_floored_to_whole_seconds_as_go_unix() -> None:
    pods = pod_families([Pod(id="p" * 64, name="shop", created=1700000000.999),
                         Pod(id="q" * 64, name="none")])
    assert series(pods, "podman_pod_created_seconds") == [
        ({"id": "p" * 12, "name": "shop"}, 1700000000.0)]
    volumes = volume_families([Volume("data", created=1700000001.5), Volume("old")])
    assert series(volumes, "podman_volume_created_seconds") == [({"name": "data"}, 1700000001.0)]


def test_networks_parse_from_the_recorded_reply() -> None:
    reply = json.loads((RECORDING / "rest" / "networks.json").read_text())["body"]
    batch = parse_records(reply, parse.network, "network")
    assert batch.bad == 0
    by_name = {n.name: n for n in batch.items}
    assert set(by_name) == {r["name"] for r in reply}
    rec = by_name["rec-net"]
    assert (rec.driver, rec.interface, dict(rec.labels)) == ("bridge", "cni-podman1",
                                                            {"purpose": "rec"})
    assert rec.id == next(r["id"] for r in reply if r["name"] == "rec-net")
    assert dict(by_name["podman"].labels) == {}  # Podman leaves out empty labels


def test_a_network_without_a_name_is_dropped() -> None:
    batch = parse_records([{"id": "x" * 64}, {"name": "n", "id": 5}], parse.network, "network")
    assert [n.name for n in batch.items] == ["n"] and batch.bad == 2


def test_network_info_has_the_go_labels() -> None:
    families = network_families([
        Network(id="b" * 64, name="shop", driver="bridge", interface="podman1",
                labels=MappingProxyType({"team": "a", "env": "prod"})),
        Network(id="a" * 64, name="podman", driver="bridge", interface="podman0"),
        Network(id="a" * 64, name="podman", driver="macvlan", interface="x"),  # listed twice
    ])
    assert series(families, "podman_network_info") == [
        ({"name": "podman", "id": "a" * 12, "driver": "bridge", "interface": "podman0",
          "labels": ""}, 1.0),
        ({"name": "shop", "id": "b" * 12, "driver": "bridge", "interface": "podman1",
          "labels": "env=prod,team=a"}, 1.0),
    ]


def test_network_labels_text_is_key_ordered() -> None:
    assert labels_text({"b": "2", "a": "1=x"}) == "a=1=x,b=2"
    assert labels_text({}) == ""


def test_varlink_has_no_networks() -> None:
    backend = VarlinkBackend("unix:/nonexistent/none.sock", connections=1)
    try:
        with pytest.raises(Unsupported):
            backend.list_networks()
    finally:
        backend.close()


# --- component versions -----------------------------------------------------------------


@pytest.mark.parametrize(("text", "version"), [
    ("runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8",
     "runc version 1.1.5+ds1"),
    ("crun version 1.14.4\ncommit: a220ca661ce078f2c37b38c92e66cf66c012d9c1\nrundir: /run",
     "crun version 1.14.4"),
    ("", ""),
])
def test_runtime_version_is_cut_as_the_go_exporter_does(text: str, version: str) -> None:
    assert parse.runtime_version(text) == version


@pytest.mark.parametrize(("text", "version"), [
    ("conmon version 2.1.6, commit: unknown", "2.1.6"),
    ("conmon version 2.1.10, commit: 2dcd736e46ded79a53339462bc251694b150f870", "2.1.10"),
    ("", ""),
])
def test_conmon_version_is_cut_as_the_go_exporter_does(text: str, version: str) -> None:
    assert parse.conmon_version(text) == version


def test_component_versions_come_from_rest_info() -> None:
    host = parse.host_info(Record(body("info")))
    assert (host.api_version, host.runtime_version, host.conmon_version,
            host.buildah_version) == ("4.3.1", "runc version 1.1.5+ds1", "2.1.6", "1.28.2")


def test_varlink_info_has_no_component_versions() -> None:
    info = json.loads((RECORDING / "varlink" / "GetInfo.json").read_text())["reply"]["info"]
    host = varlink_parse.host_info(Record(info), None)
    assert (host.api_version, host.runtime_version, host.conmon_version,
            host.buildah_version) == ("", "", "", "")
    assert not [f for f in host_families(host, 0.0) if f.name.startswith("podman_system_")]


def test_component_version_families_are_gauges_of_one_left_out_without_host_info() -> None:
    host = HostInfo(api_version="5.8.2", runtime_version="crun version 1.14.4",
                    conmon_version="2.1.10", buildah_version="")
    families = host_families(host, 0.0)
    got = {f.name: (f.type, [(dict(s.labels), s.value) for s in f.samples]) for f in families
           if f.name.startswith("podman_system_")}
    assert got == {
        "podman_system_api_version": ("gauge", [({"version": "5.8.2"}, 1.0)]),
        "podman_system_runtime_version": ("gauge", [({"version": "crun version 1.14.4"}, 1.0)]),
        "podman_system_conmon_version": ("gauge", [({"version": "2.1.10"}, 1.0)]),
    }  # buildah unknown: absent
    hidden = host_families(host, 0.0, info=False)
    assert not [f for f in hidden if f.name.startswith("podman_system_")]


# --- container label names, Go style -----------------------------------------------------


def test_go_style_uses_the_sanitised_key_itself() -> None:
    pairs = dict(container_label_names(("app", "io.podman/tier", "Tier_2"), "go"))
    assert pairs == {"app": "app", "io.podman/tier": "io_podman_tier", "Tier_2": "Tier_2"}


def test_go_style_never_takes_a_built_in_reserved_or_invalid_name() -> None:
    keys = ("name", "id", "pod.id", "image-id", "__meta", "9lives", "", "ports")
    pairs = dict(container_label_names(keys, "go"))
    assert pairs == {
        "name": "label_name", "id": "label_id", "pod.id": "label_pod_id",
        "image-id": "label_image_id", "__meta": "label___meta", "9lives": "label_9lives",
        "": "label_", "ports": "label_ports",
    }


def test_go_style_clashes_get_suffixes_and_own_spellings_win() -> None:
    pairs = dict(container_label_names(("a.b", "a_b", "label_name", "name"), "go"))
    assert pairs == {"a_b": "a_b", "a.b": "a_b_2", "label_name": "label_name",
                     "name": "label_name_2"}


@pytest.mark.parametrize("style", ["go", "prefixed"])
def test_both_styles_give_valid_distinct_order_independent_names(style: str) -> None:
    keys = ("a.b", "a_b", "a_b_2", "a-b", "", "ü", "__x", "id", "name", "label_id", "7")
    results = {container_label_names(order, style)
               for order in itertools.islice(itertools.permutations(keys), 300)}
    assert len(results) == 1
    names = [n for _, n in results.pop()]
    assert len(set(names)) == len(names)
    for n in names:
        assert LABEL_NAME.fullmatch(n) and not n.startswith("__") and n not in BUILT_IN


def test_go_style_labels_on_container_info() -> None:
    web = container("a", "web", labels=MappingProxyType({"app": "shop", "name": "x"}))
    job = container("b", "job")
    snap = Snapshot(taken_at=0.0, up=True, containers=(web, job))
    options = MetricOptions(container_labels=("app", "name"), container_label_style="go")
    info = {labels["name"]: labels for labels, _ in
            series(build_families(snap, options), "podman_container_info")}
    assert info["web"]["app"] == "shop" and info["web"]["label_name"] == "x"
    assert info["job"]["app"] == ""  # Prometheus stores an empty label as no label
