"""varlink parsers pinned by the recorded io.projectatomic.podman replies (podman-4.3/varlink).

The replies were recorded from our bridge in front of a real Podman 4.3.1, right after
its REST replies and truth.json (tests/replies/README.md). Each field is checked against
the host (truth.json), against the REST reply parsed by the REST parser (two wire
formats, two parsers, one Podman), or against the reply itself. Nothing that changes
when the recording is redone is written here.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from podman_exporter.podman import rest_parse, varlink_parse
from podman_exporter.podman.fields import Record, parse_records
from podman_exporter.snapshot.model import ContainerState
from replies.recorded import body as rest
from replies.recorded import reply, truth, truth_of


def listed() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = reply("ListContainers")["containers"]
    return found


def info_record() -> dict[str, Any]:
    found: dict[str, Any] = reply("GetInfo")["info"]
    return found


def version_record() -> dict[str, Any]:
    found: dict[str, Any] = reply("GetVersion")["version"]
    return found


# -- ListContainers ------------------------------------------------------------------------


def test_containers_match_podman_inspect() -> None:
    batch = parse_records(listed(), varlink_parse.container, "container")
    assert batch.bad == 0
    assert sorted(c.id for c in batch.items) == sorted(c["id"] for c in truth()["containers"])
    for c in batch.items:
        t = truth_of(c.id)
        assert c.name == t["name"]
        assert c.state is ContainerState.parse(t["state"])
    names = truth()["zoo"]["names"]
    states = {c.name: c.state for c in batch.items}
    # the 2018 words: "configured" is today's "created"
    assert states[names["created"]] is ContainerState.CREATED
    assert states[names["paused"]] is ContainerState.PAUSED


def test_containers_agree_with_the_rest_listing() -> None:
    by_id = {c.id: c for c in map(rest_parse.container, map(Record, rest("containers")))}
    for c in map(varlink_parse.container, map(Record, listed())):
        r = by_id[c.id]
        assert (c.image, c.image_id) == (r.image, r.image_id)
        assert c.image and c.image_id
        assert dict(c.labels) == dict(r.labels)
        # Go time text here, RFC 3339 there; the bridge went through a float
        assert c.created is not None and r.created is not None
        assert c.created == pytest.approx(r.created, abs=1e-6)
        assert [p.render() for p in c.ports] == [p.render() for p in r.ports]
    assert any(c.labels for c in by_id.values())


def test_published_port() -> None:
    name = truth()["zoo"]["names"]["labeled"]
    [raw] = [r for r in listed() if r["names"] == name]
    c = varlink_parse.container(Record(raw))
    assert [(p.host_ip, p.host_port, p.container_port, p.protocol) for p in c.ports] == [
        ("127.0.0.1", str(truth()["traffic"]["published_port"]), "80", "tcp")]
    assert dict(c.labels) == {"app": "shop", "tier": "web"}


def test_names_as_a_list_and_a_container_without_a_name() -> None:
    raw = listed()[0]
    assert varlink_parse.container(Record({**raw, "names": [raw["names"]]})).name == raw["names"]
    nameless: tuple[str | list[str] | None, ...] = (None, [], "", [""])
    for names in nameless:
        assert varlink_parse.container(Record({**raw, "names": names})).name == raw["id"][:12]


def test_created_that_is_not_go_time_is_counted_and_shown_cut(
        caplog: pytest.LogCaptureFixture) -> None:
    raw = listed()[0]
    text = raw["createdat"].replace("UTC", "Coordinated Universal Time")
    assert len(text) > 40
    caplog.set_level(logging.WARNING)
    batch = parse_records([{**raw, "createdat": text}], varlink_parse.container, "container")
    assert batch.bad == 1 and batch.items[0].created is None
    assert caplog.records[-1].getMessage() == (
        "malformed container records from Podman: 1 of 1 "
        f"(first: kept without createdat: not a Go time: {text[:40]!r})")
    assert varlink_parse.container(Record({**raw, "createdat": ""})).created is None


# -- sizes (ListContainers rootfssize, rwsize) --------------------------------------------------


def test_sizes_match_podman_ps_size() -> None:
    batch = parse_records(listed(), varlink_parse.size, "container size")
    assert batch.bad == 0 and len(batch.items) == len(truth()["containers"])
    for s in batch.items:
        want = truth_of(s.id)["size"]
        assert (s.rootfs_bytes, s.rw_bytes) == (want["rootFsSize"], want["rwSize"])
    assert any(s.rw_bytes == 0 for s in batch.items)  # the created container wrote nothing


def test_zero_rootfs_means_both_sizes_unknown() -> None:
    """The 2018 service wrote 0 for both when it could not compute them."""
    raw = listed()[0]
    for rootfs in (0, None):
        s = varlink_parse.size(Record({**raw, "rootfssize": rootfs, "rwsize": 0}))
        assert (s.id, s.rootfs_bytes, s.rw_bytes) == (raw["id"], None, None)


# -- GetContainerStats ---------------------------------------------------------------------------


def _stats_records() -> list[dict[str, Any]]:
    names = [c["name"] for c in truth()["containers"]]
    return [reply(f"GetContainerStats-{name}")["container"] for name in names]


def test_stats_match_the_cgroup_and_the_network_namespace() -> None:
    batch = parse_records(_stats_records(), varlink_parse.stats, "stats")
    assert batch.bad == 0 and len(batch.items) == len(truth()["containers"])
    raw = {r["id"]: r for r in _stats_records()}
    mem_total = truth()["host"]["mem_total_bytes"]
    measured = 0
    for s in batch.items:
        t = truth_of(s.id)
        assert (s.block_input_bytes, s.block_output_bytes) == (
            raw[s.id]["block_input"], raw[s.id]["block_output"])
        assert s.cpu_system_seconds == raw[s.id]["system_nano"] / 1e9
        if t["state"] not in ("running", "paused"):
            assert (s.cpu_seconds, s.mem_usage_bytes, s.pids, s.mem_limit_bytes) == (0, 0, 0, 0)
            continue
        measured += 1
        w = t["at_varlink_stats"]

        def between(value: float | None, figure: str, w: dict[str, Any] = w) -> bool:
            low, high = sorted((w["before"][figure], w["after"][figure]))
            return value is not None and low <= value <= high

        def net(value: int | None, field: str, w: dict[str, Any] = w) -> bool:
            low, high = sorted(w[when]["net"]["eth0"][field] for when in ("before", "after"))
            return value is not None and low <= value <= high

        assert s.cpu_seconds is not None
        assert between(round(s.cpu_seconds * 1e9), "cpuacct.usage_ns")
        assert s.cpu_seconds == raw[s.id]["cpu_nano"] / 1e9
        assert between(s.mem_usage_bytes, "memory.usage_in_bytes")
        assert between(s.pids, "pids.current")
        assert s.mem_limit_bytes == mem_total
        # the service swapped them as Podman before 4.4 did; the parser exchanges them back
        assert net(s.net_input_bytes, "rx_bytes") and net(s.net_output_bytes, "tx_bytes")
        assert 0 < (s.cpu_system_seconds or 0) <= s.cpu_seconds
    assert measured == sum(c["state"] in ("running", "paused") for c in truth()["containers"])
    assert measured > 0


def test_stats_of_the_download() -> None:
    names = truth()["zoo"]["names"]
    blob = truth()["zoo"]["blob_size"]
    server = varlink_parse.stats(Record(reply(f"GetContainerStats-{names['server']}")[
        "container"]))
    client = varlink_parse.stats(Record(reply(f"GetContainerStats-{names['client']}")[
        "container"]))
    assert server.net_output_bytes > blob > server.net_input_bytes
    assert client.net_input_bytes > blob > client.net_output_bytes


def test_stats_without_cpu_counters() -> None:
    raw = _stats_records()[0]
    s = varlink_parse.stats(Record({**raw, "cpu_nano": None, "system_nano": None}))
    assert (s.cpu_seconds, s.cpu_system_seconds) == (None, None)
    assert s.mem_usage_bytes == raw["mem_usage"]


# -- ListImages ------------------------------------------------------------------------------


def test_images_match_podman_images_and_the_rest_listing() -> None:
    batch = parse_records(reply("ListImages")["images"], varlink_parse.image, "image")
    assert batch.bad == 0
    want = {i["id"]: i for i in truth()["images"]}
    by_id = {i.id: i for i in map(rest_parse.image, map(Record, rest("images")))}
    assert sorted(i.id for i in batch.items) == sorted(want) == sorted(by_id)
    for image in batch.items:
        r = by_id[image.id]
        assert image.size_bytes == want[image.id]["size"]
        assert sorted(image.repo_tags) == sorted(want[image.id]["names"])
        assert (image.parent_id, image.repo_tags, image.repo_digests) == (
            r.parent_id, r.repo_tags, r.repo_digests)
        assert image.digest == r.digest and image.digest.startswith("sha256:")
        assert image.created == r.created  # Go time text here, unix seconds there
        assert image.containers == r.containers
        assert dict(image.labels) == dict(r.labels)
    assert any(i.labels for i in batch.items) and any(i.containers for i in batch.items)


def test_image_sizes_and_digests_of_the_2018_service() -> None:
    """The service left ``size`` at 0 and filled ``virtualSize``; an image pulled by tag
    only has no digest."""
    raw = reply("ListImages")["images"][0]
    virtual = raw["virtualSize"]
    assert varlink_parse.image(Record({**raw, "size": 0})).size_bytes == virtual
    assert varlink_parse.image(Record({**raw, "size": None})).size_bytes == virtual
    assert varlink_parse.image(Record({**raw, "virtualSize": None})).size_bytes == raw["size"]
    batch = parse_records([{**raw, "size": None, "virtualSize": None}], varlink_parse.image, "i")
    assert batch.bad == 0 and batch.items[0].size_bytes is None
    bare = varlink_parse.image(Record({**raw, "repoDigests": []}))
    assert (bare.digest, bare.repo_digests) == ("", ())
    parent = reply("ListImages")["images"][1]["id"]
    assert varlink_parse.image(Record({**raw, "parentId": parent})).parent_id == parent


# -- GetInfo and GetVersion ------------------------------------------------------------------


def test_host_info_matches_the_host_and_the_rest_info() -> None:
    info = varlink_parse.host_info(Record(info_record()), Record(version_record()))
    r = rest_parse.host_info(Record(rest("info")))
    host = truth()["host"]
    assert (info.mem_total_bytes, info.cpus) == (host["mem_total_bytes"], host["nproc"])
    assert (info.hostname, info.kernel, info.os, info.arch) == (r.hostname, r.kernel, r.os,
                                                                 r.arch)
    assert all((info.hostname, info.kernel, info.os, info.arch))
    assert info.mem_free_bytes is not None and info.mem_total_bytes is not None
    assert 0 < info.mem_free_bytes < info.mem_total_bytes
    assert info.swap_free_bytes == r.swap_free_bytes == 0
    assert info.swap_total_bytes is None  # 0: never filled by the service
    images = {i["id"] for i in truth()["images"]}  # listed there once per tag
    assert (info.store_containers, info.store_images) == (len(truth()["containers"]),
                                                          len(images))
    assert (info.graph_driver_name, info.graph_root, info.run_root) == (
        r.graph_driver_name, r.graph_root, r.run_root)
    assert info.graph_root and info.run_root and info.graph_root != info.run_root
    assert info.version == r.version
    assert info.version.version == truth()["podman_version"]
    assert info.version.os_arch == "linux/amd64"


def test_uptime_is_the_hosts() -> None:
    """The service's uptime is an exact Go duration; /proc/uptime read around the
    request brackets it (to within a second: the bridge that answered made it exact
    from Podman's rounded text with one reading)."""
    info = varlink_parse.host_info(Record(info_record()), None)
    w = truth()["windows"]["varlink_info"]
    [(low, high)] = info.uptime_ranges
    assert low == high
    assert w["uptime_before"] - 1 <= low <= w["uptime_after"] + 1


def test_version_from_the_info_record_without_get_version() -> None:
    """Without GetVersion, the version comes from PodmanInfo's ``podman`` record; that
    record has no os_arch."""
    info = varlink_parse.host_info(Record(info_record()), None)
    binary = info_record()["podman"]
    assert (info.version.version, info.version.go_version, info.version.git_commit,
            info.version.os_arch) == (binary["podman_version"], binary["go_version"],
                                      binary["git_commit"], "")
    assert info.version.version == truth()["podman_version"]


def test_git_commit_and_version_of_the_2018_service() -> None:
    """The 2018 service never filled ``podman_version`` in PodmanInfo (GetVersion has
    it); its builds did carry a git commit."""
    commit = "c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0"
    raw = info_record()
    raw["podman"].update(podman_version="", git_commit=commit)
    version = {**version_record(), "version": "0.8.4", "git_commit": commit}
    info = varlink_parse.host_info(Record(raw), Record(version))
    assert (info.version.version, info.version.git_commit) == ("0.8.4", commit)
    alone = varlink_parse.host_info(Record(raw), None)
    assert (alone.version.version, alone.version.git_commit) == ("", commit)
    info = varlink_parse.host_info(Record(info_record()), Record(
        {**version_record(), "git_commit": commit}))
    assert info.version.git_commit == commit


def test_get_version_wins_over_the_info_record() -> None:
    """GetVersion describes the service binary; where the two records differ (a service
    restarted after an upgrade between the calls), GetVersion's word is taken."""
    raw = info_record()
    raw["podman"].update(podman_version="0.8.3", go_version="go1.10.2", git_commit="aaa")
    version = {**version_record(), "version": "0.8.4", "go_version": "go1.10.3",
               "git_commit": "bbb"}
    got = varlink_parse.host_info(Record(raw), Record(version)).version
    assert (got.version, got.go_version, got.git_commit) == ("0.8.4", "go1.10.3", "bbb")


def test_swap_is_reported_when_the_service_filled_it() -> None:
    raw = info_record()
    raw["host"].update(swap_total=2_147_479_552, swap_free=2_000_000_000)
    info = varlink_parse.host_info(Record(raw), None)
    assert (info.swap_total_bytes, info.swap_free_bytes) == (2_147_479_552, 2_000_000_000)
