"""REST parsers pinned by a real Podman 4.3.1 recording (tests/replies/podman-4.3).

Every field of every record is checked against what the host said (truth.json), against
another endpoint of the same Podman, or against the reply itself where nothing else
knows the value. Ids, times, pids and ports change when the recording is redone, so no
value is written here; only the zoo's fixed names are (tests/replies/README.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest

from podman_exporter.podman import rest_parse as parse
from podman_exporter.podman.corrections import net_counters_swapped, uptime_ranges
from podman_exporter.podman.fields import Record, parse_records
from podman_exporter.snapshot.model import ContainerState, Health, PodState
from replies.recorded import body, truth, truth_of


def window(cid: str, figure: str) -> tuple[int, int]:
    """Return (low, high) of a host figure read just before and after the stats request."""
    w = truth_of(cid)["at_rest_stats"]
    values = (w["before"][figure], w["after"][figure])
    return min(values), max(values)


def eth0(cid: str, field: str) -> tuple[int, int]:
    w = truth_of(cid)["at_rest_stats"]
    values = (w["before"]["net"]["eth0"][field], w["after"]["net"]["eth0"][field])
    return min(values), max(values)


# -- containers/json ---------------------------------------------------------------------


def test_every_container_matches_what_podman_inspect_said() -> None:
    batch = parse_records(body("containers"), parse.container, "container")
    assert batch.bad == 0
    assert sorted(c.id for c in batch.items) == sorted(c["id"] for c in truth()["containers"])
    pod_names = {p["Id"]: p["Name"] for p in body("pods")}
    for c in batch.items:
        t = truth_of(c.id)
        assert c.name == t["name"]
        assert c.state is ContainerState.parse(t["state"])
        assert c.exit_code == t["exit_code"]
        assert c.pod_id == (t["pod"] or "")
        assert c.pod_name == pod_names.get(t["pod"] or "", "")
        assert c.health is (Health.parse(t["health"]) if t["health"] else Health.UNKNOWN)
        assert c.pid == (t["pid"] or None)  # inspect's State.Pid, 0 when not running


def test_the_zoo_states_and_exit_code() -> None:
    by_name = {c.name: c for c in map(parse.container, map(Record, body("containers")))}
    names = truth()["zoo"]["names"]
    assert by_name[names["running"]].state is ContainerState.RUNNING
    assert by_name[names["paused"]].state is ContainerState.PAUSED
    assert by_name[names["created"]].state is ContainerState.CREATED
    assert (by_name[names["exited"]].state, by_name[names["exited"]].exit_code) == (
        ContainerState.EXITED, 3)
    assert by_name[names["health"]].health is Health.HEALTHY
    assert by_name[names["running"]].health is Health.UNKNOWN


def test_image_of_each_container_is_a_listed_image() -> None:
    images = {i["Id"]: i for i in body("images")}
    for c in map(parse.container, map(Record, body("containers"))):
        assert c.image_id in images
        assert c.image in images[c.image_id]["RepoTags"]


def test_times_are_unix_seconds_and_go_zero_time_is_unknown() -> None:
    """Created is RFC 3339 with up to nanoseconds (Go drops trailing zeros, so the
    fraction has fewer than 9 digits in some entries); StartedAt and ExitedAt are unix
    seconds, Go's zero time (-62135596800) for a time that did not happen."""
    raw = {r["Id"]: r for r in body("containers")}
    for c in map(parse.container, map(Record, body("containers"))):
        text = raw[c.id]["Created"]
        whole, _, fraction = text.rstrip("Z").partition(".")
        expected = datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp()
        assert c.created == pytest.approx(expected + int(fraction.ljust(9, "0")) / 1e9,
                                          abs=1e-6)
        state = truth_of(c.id)["state"]
        assert c.started == (None if state == "created" else float(raw[c.id]["StartedAt"]))
        assert c.exited == (float(raw[c.id]["ExitedAt"]) if state == "exited" else None)
        assert c.started is None or (c.created is not None and c.created <= c.started + 1)
    assert any(len(r["Created"].rstrip("Z").partition(".")[2]) < 9 for r in raw.values())


def test_published_port_and_labels() -> None:
    name = truth()["zoo"]["names"]["labeled"]
    labeled = next(r for r in body("containers") if r["Names"] == [name])
    c = parse.container(Record(labeled))
    assert [(p.host_ip, p.host_port, p.container_port, p.protocol) for p in c.ports] == [
        ("127.0.0.1", str(truth()["traffic"]["published_port"]), "80", "tcp")]
    assert dict(c.labels) == labeled["Labels"] and dict(c.labels)["app"] == "shop"
    others = [parse.container(Record(r)) for r in body("containers") if r["Names"] != [name]]
    assert all(o.ports == () for o in others)  # "Ports": null


def test_docker_style_names_and_a_container_without_names() -> None:
    """The Docker-compatible listing writes names with a leading slash; a container
    without a name is shown by its short id, as ``podman ps`` does."""
    raw = body("containers")[0]
    for name in (raw["Names"][0], "Xvfb-display"):
        assert parse.container(Record({**raw, "Names": ["/" + name]})).name == name
    for names in (None, [], [""]):
        assert parse.container(Record({**raw, "Names": names})).name == raw["Id"][:12]


@pytest.mark.parametrize(("entry", "fields"), [
    # libpod: "range" is the number of consecutive ports; absent or 0 means one
    ({"host_ip": "", "container_port": 80, "host_port": 8080, "protocol": "tcp"},
     ("", "8080", "80", "tcp")),
    ({"host_ip": "", "container_port": 80, "host_port": 8080, "range": 0, "protocol": "tcp"},
     ("", "8080", "80", "tcp")),
    ({"host_ip": "::1", "container_port": 53, "host_port": 5353, "range": 2,
      "protocol": "udp"}, ("::1", "5353-5354", "53-54", "udp")),
    # Docker-compatible shape (IP, PrivatePort, PublicPort, Type); an exposed but
    # unpublished port has no PublicPort
    ({"IP": "127.0.0.1", "PrivatePort": 53, "PublicPort": 1053, "Type": "udp"},
     ("127.0.0.1", "1053", "53", "udp")),
    ({"PrivatePort": 6379, "Type": "tcp"}, ("", "", "6379", "tcp")),
])
def test_port_shapes(entry: dict[str, Any], fields: tuple[str, str, str, str]) -> None:
    raw = {**body("containers")[0], "Ports": [entry]}
    [port] = parse.container(Record(raw)).ports
    assert (port.host_ip, port.host_port, port.container_port, port.protocol) == fields


def test_port_without_a_usable_host_or_container_port_is_left_out() -> None:
    raw = body("containers")[0]
    good = {"host_ip": "", "container_port": 80, "host_port": 8080, "range": 1,
            "protocol": "tcp"}
    for broken in ({**good, "host_port": None}, {**good, "container_port": "eighty"}):
        batch = parse_records([{**raw, "Ports": [broken, good]}], parse.container, "container")
        assert [p.render() for p in batch.items[0].ports] == ["0.0.0.0:8080->80/tcp"]


def test_unix_seconds_boundary() -> None:
    """Only 0 and below mean "no such time"; one second after the epoch is a time."""
    assert parse.unix_seconds(1) == 1.0
    assert parse.unix_seconds(0) is None


# -- containers/json?size=true -------------------------------------------------------------


def test_sizes_match_podman_ps_size() -> None:
    batch = parse_records(body("containers-size"), parse.size, "size")
    assert batch.bad == 0 and len(batch.items) == len(truth()["containers"])
    for s in batch.items:
        want = truth_of(s.id)["size"]
        assert (s.rootfs_bytes, s.rw_bytes) == (want["rootFsSize"], want["rwSize"])
    server = truth()["zoo"]["names"]["server"]
    [served] = [s for s in batch.items if truth_of(s.id)["name"] == server]
    assert served.rw_bytes is not None and served.rw_bytes >= truth()["zoo"]["blob_size"]


def test_without_size_true_both_sizes_are_unknown_and_nothing_is_bad() -> None:
    batch = parse_records(body("containers"), parse.size, "size")  # "Size": null
    assert batch.bad == 0
    assert {(s.rootfs_bytes, s.rw_bytes) for s in batch.items} == {(None, None)}


# -- containers/stats ------------------------------------------------------------------------


def stats_of(raw: dict[str, Any]) -> Any:
    """Parse one stats entry as the backend does for the Podman that was recorded."""
    return parse.stats(Record(raw), net_counters_swapped(truth()["podman_version"]))


def test_stats_match_the_cgroup_and_the_network_namespace() -> None:
    reply = body("stats")
    assert reply["Error"] is None
    swapped = net_counters_swapped(body("info")["version"]["Version"])
    assert swapped is True  # 4.3.1: NetInput holds eth0's transmit counter (podman#16618)
    batch = parse_records(reply["Stats"], partial(parse.stats, swapped=swapped), "stats")
    assert batch.bad == 0 and batch.items
    raw = {r["ContainerID"]: r for r in reply["Stats"]}
    mem_total = truth()["host"]["mem_total_bytes"]
    for s in batch.items:
        low, high = window(s.id, "cpuacct.usage_ns")
        assert s.cpu_seconds is not None and low / 1e9 <= s.cpu_seconds <= high / 1e9
        assert s.cpu_system_seconds == raw[s.id]["CPUSystemNano"] / 1e9
        assert s.cpu_system_seconds is not None and 0 < s.cpu_system_seconds <= s.cpu_seconds
        low, high = window(s.id, "memory.usage_in_bytes")
        assert s.mem_usage_bytes is not None and low <= s.mem_usage_bytes <= high
        assert s.mem_limit_bytes == mem_total  # no limit set: the host's memory
        low, high = window(s.id, "pids.current")
        assert s.pids is not None and low <= s.pids <= high
        low, high = eth0(s.id, "rx_bytes")
        assert s.net_input_bytes is not None and low <= s.net_input_bytes <= high
        low, high = eth0(s.id, "tx_bytes")
        assert s.net_output_bytes is not None and low <= s.net_output_bytes <= high
        assert (s.block_input_bytes, s.block_output_bytes) == (
            raw[s.id]["BlockInput"], raw[s.id]["BlockOutput"])


def test_stats_of_the_download() -> None:
    """rec-server sent the 3,000,000-byte file, rec-client received it."""
    names = truth()["zoo"]["names"]
    blob = truth()["zoo"]["blob_size"]
    by_name = {truth_of(s.id)["name"]: s for s in map(stats_of, body("stats")["Stats"])}
    server, client = by_name[names["server"]], by_name[names["client"]]
    assert server.net_output_bytes > blob > server.net_input_bytes
    assert client.net_input_bytes > blob > client.net_output_bytes


def test_net_counters_as_sent_and_unknown() -> None:
    """From 4.4 NetInput is what was received; when the version is unknown, whether they
    are swapped is unknown and both are left out."""
    raw = body("stats")["Stats"][0]
    fixed = parse.stats(Record(raw), swapped=False)
    assert (fixed.net_input_bytes, fixed.net_output_bytes) == (raw["NetInput"], raw["NetOutput"])
    unknown = parse.stats(Record(raw), swapped=None)
    assert (unknown.net_input_bytes, unknown.net_output_bytes) == (None, None)
    assert unknown.cpu_seconds == fixed.cpu_seconds == raw["CPUNano"] / 1e9


def _podman5(entry: dict[str, Any], interfaces: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """Return a 4.3 stats entry in the shape Podman 5 sends: NetInput/NetOutput fixed and a
    per-interface ``Network`` map of ContainerNetworkStats (RxBytes, TxBytes, ...)."""
    network = {
        name: {"RxBytes": rx, "RxDropped": 0, "RxErrors": 0, "RxPackets": 1,
               "TxBytes": tx, "TxDropped": 0, "TxErrors": 0, "TxPackets": 1}
        for name, (rx, tx) in interfaces.items()
    }
    return {**entry, "NetInput": sum(rx for rx, _ in interfaces.values()),
            "NetOutput": sum(tx for _, tx in interfaces.values()), "Network": network}


def podman5_stats(raw: dict[str, Any]) -> Any:
    return parse.stats(Record(raw), net_counters_swapped("5.0.0"))


def test_podman5_network_map_is_summed_over_interfaces() -> None:
    entry = body("stats")["Stats"][0]
    e = eth0(entry["ContainerID"], "rx_bytes")[1], eth0(entry["ContainerID"], "tx_bytes")[1]
    one = podman5_stats(_podman5(entry, {"eth0": e}))
    assert (one.net_input_bytes, one.net_output_bytes) == e
    two = parse_records([_podman5(entry, {"eth0": e, "eth1": (700, 11)})],
                        partial(parse.stats, swapped=False), "stats")
    assert two.bad == 0
    assert (two.items[0].net_input_bytes, two.items[0].net_output_bytes) == (
        e[0] + 700, e[1] + 11)
    # the map wins over NetInput/NetOutput, and is never exchanged nor dropped
    mixed = {**_podman5(entry, {"eth0": e}), "NetInput": 1, "NetOutput": 2}
    for swapped in (False, True, None):
        s = parse.stats(Record(mixed), swapped)
        assert (s.net_input_bytes, s.net_output_bytes) == e
    # no interface at all (network mode none): zero bytes, not unknown
    none = podman5_stats(_podman5(entry, {}))
    assert (none.net_input_bytes, none.net_output_bytes) == (0, 0)


def test_podman5_one_bad_interface_makes_that_direction_unknown() -> None:
    entry = _podman5(body("stats")["Stats"][0], {"eth0": (500, 600), "eth1": (70, 80)})
    entry["Network"]["eth1"]["RxBytes"] = -1
    batch = parse_records([entry], partial(parse.stats, swapped=False), "stats")
    assert batch.bad == 1
    assert (batch.items[0].net_input_bytes, batch.items[0].net_output_bytes) == (None, 680)
    entry["Network"]["eth0"]["TxBytes"] = "600"
    s = podman5_stats(entry)
    assert (s.net_input_bytes, s.net_output_bytes) == (None, None)


# -- images/json, pods/json, volumes/json ------------------------------------------------------


def test_images_match_podman_images() -> None:
    batch = parse_records(body("images"), parse.image, "image")
    assert batch.bad == 0
    want = {i["id"]: i for i in truth()["images"]}
    assert sorted(i.id for i in batch.items) == sorted(want)
    raw = {r["Id"]: r for r in body("images")}
    containers = body("containers")
    for image in batch.items:
        assert image.size_bytes == want[image.id]["size"]
        assert sorted(image.repo_tags) == sorted(want[image.id]["names"])
        assert image.repo_digests == tuple(raw[image.id]["RepoDigests"])
        assert image.repo_digests and all(d.endswith("@" + image.digest)
                                          for d in image.repo_digests)
        assert image.digest.startswith("sha256:")
        assert image.containers == sum(c["ImageID"] == image.id for c in containers)
        assert image.created == float(raw[image.id]["Created"])
        assert dict(image.labels) == (raw[image.id]["Labels"] or {})
        assert image.parent_id == raw[image.id]["ParentId"] == ""
    assert any(i.labels for i in batch.items)  # the pause image has a buildah label


def test_image_parent() -> None:
    """An image built on top of another names it in ParentId."""
    base, child = body("images")[:2]
    assert parse.image(Record({**child, "ParentId": base["Id"]})).parent_id == base["Id"]


def test_pod_matches_its_containers() -> None:
    [raw] = body("pods")
    pod = parse.pod(Record(raw))
    members = [c for c in truth()["containers"] if c["pod"] == pod.id]
    assert (pod.name, pod.state) == (truth()["zoo"]["pod"], PodState.RUNNING)
    assert pod.containers == len(members) == 3
    infra = truth()["zoo"]["names"]["pod_infra"]
    assert pod.infra_id == next(c["id"] for c in members if c["name"] == infra)
    assert parse.pod(Record({**raw, "Name": ""})).name == pod.id[:12]


def test_volume() -> None:
    [raw] = body("volumes")
    vol = parse.volume(Record(raw))
    assert (vol.name, vol.driver) == (truth()["zoo"]["volume"], "local")
    assert vol.mount_point == raw["Mountpoint"] and vol.mount_point.endswith("/_data")


# -- info ----------------------------------------------------------------------------------------


def test_host_info_matches_the_host() -> None:
    raw = body("info")
    info = parse.host_info(Record(raw))
    host = truth()["host"]
    assert info.mem_total_bytes == host["mem_total_bytes"]
    assert info.cpus == host["nproc"]
    assert info.mem_free_bytes is not None and info.mem_total_bytes is not None
    assert 0 < info.mem_free_bytes < info.mem_total_bytes
    assert (info.swap_total_bytes, info.swap_free_bytes) == (
        raw["host"]["swapTotal"], raw["host"]["swapFree"])
    assert info.store_containers == len(truth()["containers"])
    assert info.store_images == len(body("images"))
    assert info.version.version == truth()["podman_version"]


def test_host_info_matches_the_version_endpoint() -> None:
    info = parse.host_info(Record(body("info")))
    version = body("version")
    assert info.kernel == version["KernelVersion"]
    assert (info.os, info.arch) == (version["Os"], version["Arch"])
    assert info.version.os_arch == f"{version['Os']}/{version['Arch']}"
    assert info.version.go_version == version["GoVersion"]
    assert info.version.git_commit == version["GitCommit"]


def test_host_info_store_and_names() -> None:
    raw = body("info")
    info = parse.host_info(Record(raw))
    assert info.hostname == raw["host"]["hostname"] and info.hostname
    assert info.graph_driver_name == raw["store"]["graphDriverName"] == "overlay"
    assert info.graph_root == raw["store"]["graphRoot"]
    assert info.run_root == raw["store"]["runRoot"]
    assert info.graph_root != info.run_root


def test_git_commit_of_an_upstream_build() -> None:
    """Debian's build leaves GitCommit empty; upstream builds fill it."""
    raw = body("info")
    raw["version"]["GitCommit"] = "c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0"
    assert parse.host_info(Record(raw)).version.git_commit == raw["version"]["GitCommit"]


def test_host_with_swap() -> None:
    raw = body("info")
    raw["host"].update(swapTotal=2_147_479_552, swapFree=2_000_000_000)
    info = parse.host_info(Record(raw))
    assert (info.swap_total_bytes, info.swap_free_bytes) == (2_147_479_552, 2_000_000_000)


def test_uptime_holds_the_hosts_uptime() -> None:
    """/proc/uptime read just before and after the request lies in one of the ranges
    that Podman's rounded uptime text stands for."""
    raw = body("info")
    info = parse.host_info(Record(raw))
    w = truth()["windows"]["rest_info"]
    assert info.uptime_ranges
    assert any(low <= w["uptime_after"] and w["uptime_before"] < high
               for low, high in info.uptime_ranges)
    assert info.uptime_ranges == uptime_ranges(raw["host"]["uptime"], truth()["podman_version"])


def test_uptime_text_is_read_as_the_version_in_the_same_reply_writes_it() -> None:
    """4.2 to 5.3 round the minutes: 1 h 11 m 45 s is printed ``1h 12m 45.00s``. From 5.4
    the same text means 1 h 12 m 45 s; with no version both are candidates."""
    raw = body("info")
    raw["host"]["uptime"] = "1h 12m 45.00s (Approximately 0.04 days)"
    assert raw["version"]["Version"] == "4.3.1"
    assert parse.host_info(Record(raw)).uptime_ranges == ((4305.0, 4306.0),)
    raw["version"]["Version"] = "5.4.0"
    assert parse.host_info(Record(raw)).uptime_ranges == ((4365.0, 4366.0),)
    del raw["version"]["Version"]
    assert parse.host_info(Record(raw)).uptime_ranges == ((4305.0, 4306.0), (4365.0, 4366.0))
