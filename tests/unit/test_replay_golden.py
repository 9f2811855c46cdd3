"""Recorded Podman replies -> real backends and parsers -> snapshot -> exposition.

The replies of tests/replies (real Podman 4.3.1 over REST and through our varlink bridge,
plus the 5.8 and 6.0-dev shapes derived from them) are replayed by fakes of the HTTP
pool and of the varlink call (tests/replies/replay.py), collected by the real
COLLECTORS, and rendered:

- goldens: both expositions equal tests/golden/replay/<recording>.{txt,openmetrics.txt}
  byte for byte (regenerate with ``UPDATE_GOLDEN=1``; the clock is fixed and collector
  durations are 0, see replay.py);
- truth: the exposed values equal what the host said (truth.json), not only what
  Podman said: network bytes, CPU, memory, pids and sizes of every container, its
  state, image sizes, host memory, CPUs and uptime.

Counters and gauges of a container are compared with the host's figures read just
before and just after the very request that was replayed (truth.json ``at_rest_stats``
and ``at_varlink_stats``): when nothing moved during it (``windows`` says ``quiet``, as
in the committed recording) the comparison is exact; otherwise the value must lie
between the two readings. The uptime is the one value with a tolerance (see
test_uptime_is_the_hosts).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from podman_exporter.snapshot.model import ContainerState, Health
from replies import derive, replay
from replies.recorded import truth
from replies.replay import RECORDINGS, ReplayHttp, UnknownRequest, replay_of

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "replay"
ALL = sorted(RECORDINGS)
REST = [n for n in ALL if RECORDINGS[n][1] == "rest"]
DERIVED = ["podman-5.8-rest", "podman-6.0-dev-rest"]
FORMATS = ("txt", "openmetrics.txt")


def window(name: str, container: dict[str, Any]) -> dict[str, Any]:
    """Return the host's figures around the stats request replayed for ``name``."""
    key = "at_varlink_stats" if name.endswith("varlink") else "at_rest_stats"
    found: dict[str, Any] = container[key]
    return found


def bounds(w: dict[str, Any], figure: str) -> tuple[float, float]:
    """Return (low, high) of a cgroup figure read before and after the request."""
    values = (w["before"][figure], w["after"][figure])
    return min(values), max(values)


def net_bounds(w: dict[str, Any], direction: str) -> tuple[int, int]:
    """Return (low, high) bytes over every interface but lo (what Podman counts)."""
    low, high = (sum(c[f"{direction}_bytes"] for i, c in w[when]["net"].items() if i != "lo")
                 for when in ("before", "after"))
    return low, high


def live() -> list[dict[str, Any]]:
    """Return truth's running and paused containers (those Podman measures)."""
    return [c for c in truth()["containers"] if c["state"] in ("running", "paused")]


# -- the replay itself ------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_every_collector_succeeds_on_recorded_replies_alone(name: str) -> None:
    got = replay_of(name)
    assert got.unknown == [], f"requests without a recorded reply: {got.unknown}"
    assert got.value("podman_up") == 1.0
    collectors = got.samples["podman_scrape_collector_success"]
    assert collectors and all(v == 1.0 for _, v in collectors), collectors
    assert all(v == 0.0 for _, v in got.samples["podman_exporter_bad_records_total"])
    # pods and volumes exist only on REST: the varlink replay must not fake them
    has_pods = got.value("podman_pod_info", name="rec-pod") is not None
    assert has_pods == (RECORDINGS[name][1] == "rest")


def test_an_unrecorded_request_fails_loudly() -> None:
    http = ReplayHttp(replay.HERE / "podman-4.3")
    with pytest.raises(UnknownRequest):
        http.get_json("/containers/json", [("all", "false")])
    assert http.unknown == ["GET /v4.0.0/libpod/containers/json [('all', 'false')]"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ALL)
def test_golden(name: str, fmt: str) -> None:
    got = replay_of(name)
    body = got.text if fmt == "txt" else got.openmetrics
    path = GOLDEN / f"{name}.{fmt}"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1"
    assert body == path.read_bytes(), f"{path} differs: rerun with UPDATE_GOLDEN=1 and review"


# -- truth --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_network_bytes_are_the_hosts(name: str) -> None:
    got = replay_of(name)
    for c in live():
        w = window(name, c)
        for metric, direction in (("podman_container_net_input_total", "rx"),
                                  ("podman_container_net_output_total", "tx")):
            low, high = net_bounds(w, direction)
            value = got.value(metric, name=c["name"])
            assert value is not None and low <= value <= high, (c["name"], metric, value,
                                                                 low, high)


@pytest.mark.parametrize("name", ALL)
def test_cpu_memory_and_pids_are_the_cgroups(name: str) -> None:
    got = replay_of(name)
    for c in live():
        w = window(name, c)
        cpu = got.value("podman_container_cpu_seconds_total", name=c["name"])
        low, high = bounds(w, "cpuacct.usage_ns")
        assert cpu is not None and low <= round(cpu * 1e9) <= high, (c["name"], cpu, low)
        mem = got.value("podman_container_mem_usage_bytes", name=c["name"])
        low, high = bounds(w, "memory.usage_in_bytes")
        assert mem is not None and low <= mem <= high, (c["name"], mem, low, high)
        pids = got.value("podman_container_pids", name=c["name"])
        low, high = bounds(w, "pids.current")
        assert pids is not None and low <= pids <= high, (c["name"], pids, low, high)
    for c in truth()["containers"]:
        if c["state"] not in ("running", "paused"):  # not measured: absent, never 0
            assert got.value("podman_container_cpu_seconds_total", name=c["name"]) is None


@pytest.mark.parametrize("name", ALL)
def test_cpu_seconds_are_the_nanoseconds_over_1e9(name: str) -> None:
    got = replay_of(name)
    wrong = []
    for c in live():
        ns = window(name, c)["after"]["cpuacct.usage_ns"]
        cpu = got.value("podman_container_cpu_seconds_total", name=c["name"])
        if cpu != ns / 1e9:
            wrong.append(f"{c['name']}: {cpu!r} != {ns} / 1e9 = {ns / 1e9!r}")
    assert not wrong


@pytest.mark.parametrize("name", ALL)
def test_state_and_sizes_are_podman_inspect_and_ps(name: str) -> None:
    got = replay_of(name)
    for c in truth()["containers"]:
        state = got.value("podman_container_state", name=c["name"])
        assert state == ContainerState[c["state"].upper()].value, (c["name"], state)
        rootfs = got.value("podman_container_rootfs_size_bytes", name=c["name"])
        rw = got.value("podman_container_rw_size_bytes", name=c["name"])
        assert (rootfs, rw) == (c["size"]["rootFsSize"], c["size"]["rwSize"]), c["name"]


@pytest.mark.parametrize("name", REST)
def test_exit_code_health_and_pods_are_podman_inspect(name: str) -> None:
    """What only REST reports (the 2018 varlink interface had no field for it)."""
    got = replay_of(name)
    pods: dict[str, int] = {}
    for c in truth()["containers"]:
        assert got.value("podman_container_exit_code", name=c["name"]) == c["exit_code"]
        health = Health[c["health"].upper()] if c["health"] else Health.UNKNOWN
        assert got.value("podman_container_health", name=c["name"]) == health.value, c["name"]
        if c["pod"]:
            pods[c["pod"][:12]] = pods.get(c["pod"][:12], 0) + 1
    assert pods
    for pod_id, members in pods.items():
        assert got.value("podman_pod_containers", id=pod_id) == members


@pytest.mark.parametrize("name", ALL)
def test_image_sizes_are_podman_images(name: str) -> None:
    got = replay_of(name)
    images = truth()["images"]
    assert images
    for image in images:
        for tagged in image["names"]:
            repository, _, tag = tagged.rpartition(":")
            size = got.value("podman_image_size", id=image["id"][:12], repository=repository,
                             tag=tag)
            assert size == image["size"], (tagged, size, image["size"])


@pytest.mark.parametrize("name", ALL)
def test_host_memory_and_cpus_are_the_hosts(name: str) -> None:
    got = replay_of(name)
    host = truth()["host"]
    assert got.value("podman_host_memory_total_bytes") == host["mem_total_bytes"]
    assert got.value("podman_host_cpus") == host["nproc"]


@pytest.mark.parametrize("name", ALL)
def test_uptime_is_the_hosts(name: str) -> None:
    """The exposed uptime lies in /proc/uptime's window around the info request, widened
    by what Podman's text cannot say. REST (4.3.1 text, and the 5.8/6.0 text derived from
    the same reading): whole seconds, so the true uptime is in a 1 s range whose midpoint
    is exposed: +-0.5 s. Varlink: the bridge made the uptime exact from that same kind of
    text at recording time (BootClock, one reading: +-0.5 s plus half its REST call, which
    lies inside the window) and wrote it to the centisecond: +-(0.5 + window/2 + 0.005) s.
    """
    w = truth()["windows"]["varlink_info" if name.endswith("varlink") else "rest_info"]
    tolerance = 0.5
    if name.endswith("varlink"):
        tolerance += (w["wall_after"] - w["wall_before"]) / 2 + 0.005
    uptime = replay_of(name).value("podman_host_uptime_seconds")
    assert uptime is not None
    assert w["uptime_before"] - tolerance <= uptime <= w["uptime_after"] + tolerance, (
        uptime, w, tolerance)


@pytest.mark.parametrize("name", DERIVED)
def test_5x_packets_errors_and_drops_are_the_hosts(name: str) -> None:
    """Podman 5 sums nothing itself: the exposed counts are the interfaces' sums, the
    host's /proc/<pid>/net/dev figures around the stats request."""
    got = replay_of(name)
    for c in live():
        w = window(name, c)
        for direction, way in (("rx", "input"), ("tx", "output")):
            for figure in ("packets", "errors", "dropped"):
                metric = f"podman_container_net_{way}_{figure}_total"
                low, high = (sum(n[f"{direction}_{figure}"] for i, n in w[when]["net"].items()
                                 if i != "lo") for when in ("before", "after"))
                value = got.value(metric, name=c["name"])
                assert value is not None and low <= value <= high, (c["name"], metric, value)
    server = got.value("podman_container_net_output_packets_total", name="rec-server")
    assert server is not None and server > 0  # the download: not a zero-filled map


@pytest.mark.parametrize("name", ["podman-4.3-rest", "podman-4.3-varlink"])
def test_43_has_no_packet_counts(name: str) -> None:
    got = replay_of(name)
    net = [m for m in got.samples if m.startswith("podman_container_net_")]
    assert sorted(net) == ["podman_container_net_input_total",
                           "podman_container_net_output_total"]


def recorded_body(name: str, reply: str) -> Any:
    """Return the body of rest/<reply>.json of recording ``name``."""
    path = replay.HERE / RECORDINGS[name][0] / "rest" / f"{reply}.json"
    return json.loads(path.read_text())["body"]


def whole(rfc3339: str) -> float:
    """Return the whole unix seconds of an RFC 3339 UTC time with nanoseconds."""
    stamp = datetime.strptime(rfc3339[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return stamp.timestamp()


@pytest.mark.parametrize("name", REST)
def test_pod_and_volume_creation_times_are_podmans(name: str) -> None:
    got = replay_of(name)
    (pod,) = recorded_body(name, "pods")
    assert got.value("podman_pod_created_seconds", id=pod["Id"][:12]) == whole(pod["Created"])
    (volume,) = recorded_body(name, "volumes")
    assert got.value("podman_volume_created_seconds", name=volume["Name"]) == whole(
        volume["CreatedAt"])


@pytest.mark.parametrize("name", REST)
def test_networks_are_podmans(name: str) -> None:
    got = replay_of(name)
    networks = recorded_body(name, "networks")
    assert len(got.samples["podman_network_info"]) == len(networks) >= 2
    for n in networks:
        labels = ",".join(f"{k}={v}" for k, v in sorted((n.get("labels") or {}).items()))
        assert got.value("podman_network_info", name=n["name"], id=n["id"][:12],
                         driver=n["driver"], interface=n["network_interface"],
                         labels=labels) == 1.0, n["name"]


@pytest.mark.parametrize("name", REST)
def test_component_versions_are_podman_infos(name: str) -> None:
    got = replay_of(name)
    info = recorded_body(name, "info")
    runtime = info["host"]["ociRuntime"]["version"].splitlines()[0]  # "runc version 1.1.5..."
    conmon = info["host"]["conmon"]["version"].removeprefix("conmon version ").split(",")[0]
    for metric, version in (("api", info["version"]["APIVersion"]), ("runtime", runtime),
                            ("conmon", conmon), ("buildah", info["host"]["buildahVersion"])):
        assert got.value(f"podman_system_{metric}_version", version=version) == 1.0, metric


def test_varlink_has_no_networks_or_component_versions() -> None:
    got = replay_of("podman-4.3-varlink")
    assert not [m for m in got.samples if m.startswith(("podman_network_", "podman_system_"))]


# -- Podman versions: which correction applies ------------------------------------------


def stats_entries(name: str) -> list[dict[str, Any]]:
    directory = replay.HERE / RECORDINGS[name][0] / "rest" / "stats.json"
    entries: list[dict[str, Any]] = json.loads(directory.read_text())["body"]["Stats"]
    return entries


def test_43_net_counters_are_unswapped() -> None:
    """Podman 4.3.1 sends NetInput = transmitted bytes: the exporter exchanges them."""
    got = replay_of("podman-4.3-rest")
    for e in stats_entries("podman-4.3-rest"):
        assert got.value("podman_container_net_input_total", name=e["Name"]) == e["NetOutput"]
        assert got.value("podman_container_net_output_total", name=e["Name"]) == e["NetInput"]


@pytest.mark.parametrize("name", DERIVED)
def test_5x_net_counters_are_taken_as_sent(name: str) -> None:
    """From 5.0 the per-interface Network map is right: no exchange, input = RxBytes."""
    got = replay_of(name)
    by_name = {c["name"]: c for c in live()}
    for e in stats_entries(name):
        rx = sum(i["RxBytes"] for i in e["Network"].values())
        tx = sum(i["TxBytes"] for i in e["Network"].values())
        assert got.value("podman_container_net_input_total", name=e["Name"]) == rx
        assert got.value("podman_container_net_output_total", name=e["Name"]) == tx
        assert (rx, rx) == net_bounds(window(name, by_name[e["Name"]]), "rx")
    # The check can tell a swap: the download made rx and tx far apart.
    server = next(e for e in stats_entries(name) if e["Name"] == "rec-server")
    assert server["Network"]["eth0"]["TxBytes"] > 100 * server["Network"]["eth0"]["RxBytes"]


@pytest.mark.parametrize("key", sorted(derive.TARGETS))
def test_derived_replies_are_up_to_date(key: str) -> None:
    rest = replay.HERE / derive.TARGETS[key].directory / "rest"
    derived = derive.derive(key)
    assert sorted(derived) == sorted(p.name for p in rest.glob("*.json"))
    for file_name, text in derived.items():
        assert (rest / file_name).read_text() == text, (
            f"{file_name}: run .venv/bin/python tests/replies/derive.py")
