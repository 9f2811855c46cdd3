"""Representative snapshots the golden exposition files are rendered from.

Imported by tests/unit/test_metrics_golden.py; the rendered files are also read
by the dashboard and alert tests to check that every metric name they use exists.
"""

from __future__ import annotations

from types import MappingProxyType

from podman_exporter.metrics import MetricOptions
from podman_exporter.snapshot.model import (
    Container,
    ContainerSize,
    ContainerState,
    ContainerStats,
    Health,
    HostInfo,
    Image,
    Network,
    Pod,
    PodState,
    PortMapping,
    VersionInfo,
    Volume,
)
from podman_exporter.snapshot.snapshot import CollectorStatus, Snapshot

T0 = 1_700_000_000.0
OPTIONS = MetricOptions(
    container_labels=("app", "io.podman/tier", "io_podman_tier", "com.example.owner"),
    version="0.0.0-golden",
    python_version="3.11.0",
)

WEB = "3c1a5e2f9b7d" + "a" * 52
DB = "5d0e71aa02c4" + "b" * 52
JOB = "9f8e7d6c5b4a" + "c" * 52
NEW = "0123456789ab" + "d" * 52
NGINX = "a8758716bb6a" + "e" * 52
PG = "b1c2d3e4f5a6" + "f" * 52
DANGLING = "f1b2c3d4e5f6" + "0" * 52
POD = "7e4b0c2d9a11" + "1" * 52
INFRA = "0b5c1e7f3a22" + "2" * 52
NET = "59368ade5a37" + "4" * 52


def _collectors(names: tuple[str, ...], failed: str = "") -> tuple[CollectorStatus, ...]:
    return tuple(
        CollectorStatus(
            name=n,
            success=n != failed,
            duration_seconds=0.0125 * (i + 1),
            errors_total=3 if n == failed else 0,
            bad_records_total=1 if n == "containers" else 0,
        )
        for i, n in enumerate(names)
    )


def _images() -> tuple[Image, ...]:
    return (
        Image(
            id=NGINX,
            repo_tags=("docker.io/library/nginx:1.25", "localhost:5000/nginx:1.25"),
            repo_digests=("docker.io/library/nginx@sha256:" + "4c" * 32,),
            digest="sha256:" + "4c" * 32,
            created=T0 - 86_400 * 30,
            size_bytes=187_000_000,
            containers=1,
        ),
        Image(
            id=PG,
            repo_tags=("docker.io/library/postgres:16",),
            repo_digests=("docker.io/library/postgres@sha256:" + "9d" * 32,),
            digest="sha256:" + "9d" * 32,
            created=T0 - 86_400 * 10,
            size_bytes=431_000_000,
            containers=1,
        ),
        Image(
            id=DANGLING, parent_id=NGINX, created=T0 - 86_400, size_bytes=5_000_000, containers=0
        ),
    )


def _host(swap_total: int | None, swap_free: int, git_commit: str,
          rest: bool = False) -> HostInfo:
    return HostInfo(
        hostname="node1",
        kernel="6.1.0-18-amd64",
        os="linux",
        arch="amd64",
        cpus=4,
        mem_total_bytes=8_201_000_000,
        mem_free_bytes=3_100_000_000,
        swap_total_bytes=swap_total,
        swap_free_bytes=swap_free,
        boot_time=T0 - 15_182.5,
        store_containers=3,
        store_images=3,
        graph_driver_name="overlay",
        graph_root="/var/lib/containers/storage",
        run_root="/run/containers/storage",
        version=VersionInfo("4.3.1", "go1.19.8", git_commit, "linux/amd64"),
        # Only the REST API names these components.
        api_version="4.3.1" if rest else "",
        runtime_version="crun version 1.14.4" if rest else "",
        conmon_version="2.1.10" if rest else "",
        buildah_version="1.33.5" if rest else "",
    )


def _stats(cid: str, scale: int, packets: bool = False) -> ContainerStats:
    """Return stats; ``packets``: with the counts only Podman 5's per-interface map has."""
    counts = (26 * scale, 0, 1, 13 * scale, 2, 0) if packets else (None,) * 6
    return ContainerStats(
        id=cid,
        cpu_seconds=12.5 * scale,
        cpu_system_seconds=1.25 * scale,
        mem_usage_bytes=7_168_000 * scale,
        mem_limit_bytes=33_080_606_720,
        net_input_bytes=768 * scale,
        net_output_bytes=5910 * scale,
        net_input_packets=counts[0],
        net_input_errors=counts[1],
        net_input_dropped=counts[2],
        net_output_packets=counts[3],
        net_output_errors=counts[4],
        net_output_dropped=counts[5],
        block_input_bytes=4096 * scale,
        block_output_bytes=0,
        pids=scale,
    )


def varlink_fleet() -> Snapshot:
    """Return a snapshot as the varlink backend fills it: no pods, volumes, exit codes or health."""
    web = Container(
        id=WEB,
        name="web",
        image="docker.io/library/nginx:1.25",
        image_id=NGINX,
        state=ContainerState.RUNNING,
        created=T0 - 3600,
        ports=(PortMapping("0.0.0.0", "8080", "80", "tcp"), PortMapping("", "8443", "443", "")),
        labels=MappingProxyType({"app": "shop", "io.podman/tier": "front"}),
    )
    db = Container(
        id=DB,
        name="db",
        image="docker.io/library/postgres:16",
        image_id=PG,
        state=ContainerState.PAUSED,
        created=T0 - 7200,
        labels=MappingProxyType({"app": "shop", "io_podman_tier": "back"}),
    )
    job = Container(
        id=JOB,
        name="job",
        image="docker.io/library/nginx:1.25",
        image_id=NGINX,
        state=ContainerState.EXITED,
        created=T0 - 600,
    )
    return Snapshot(
        taken_at=T0,
        endpoint="root",
        up=True,
        api="varlink",
        containers=(web, db, job),
        stats=MappingProxyType({WEB: _stats(WEB, 2), DB: _stats(DB, 1)}),
        sizes=MappingProxyType({WEB: ContainerSize(WEB, 187_000_000, 12_288),
                                DB: ContainerSize(DB, 431_000_000, 0),
                                JOB: ContainerSize(JOB, None, None)}),
        images=_images(),
        host=_host(swap_total=None, swap_free=0, git_commit=""),  # swap_total never filled
        collectors=_collectors(("containers", "host", "images", "sizes", "stats")),
        last_success=T0,
    )


def rest_fleet() -> Snapshot:
    """Return a snapshot as the REST backend fills it: pods, volumes, health, exit codes,
    a failed collector and admin actions, so that every family has series."""
    web = Container(
        id=WEB,
        name="web",
        image="docker.io/library/nginx:1.25",
        image_id=NGINX,
        state=ContainerState.RUNNING,
        created=T0 - 3600,
        ports=(PortMapping("0.0.0.0", "8080", "80", "tcp"),),
        labels=MappingProxyType({"app": "shop", "com.example.owner": "team-a"}),
        pod_id=POD,
        pod_name="shop",
        exit_code=0,
        started=T0 - 3500,
        exited=None,
        health=Health.HEALTHY,
    )
    db = Container(
        id=DB,
        name="db",
        image="docker.io/library/postgres:16",
        image_id=PG,
        state=ContainerState.RUNNING,
        created=T0 - 7200,
        pod_id=POD,
        pod_name="shop",
        exit_code=0,
        started=T0 - 7100,
        health=Health.STARTING,
    )
    job = Container(
        id=JOB,
        name="job",
        image="docker.io/library/nginx:1.25",
        image_id=NGINX,
        state=ContainerState.EXITED,
        created=T0 - 600,
        exit_code=137,
        started=T0 - 590,
        exited=T0 - 300,
        health=Health.UNHEALTHY,
    )
    new = Container(
        id=NEW,
        name="new",
        image="docker.io/library/nginx:1.25",
        image_id=NGINX,
        state=ContainerState.CREATED,
        created=T0 - 60,
        exit_code=0,
        started=0.0,
        exited=0.0,
        health=Health.UNKNOWN,
    )
    return Snapshot(
        taken_at=T0,
        endpoint="root",
        up=True,
        api="rest",
        containers=(web, db, job, new),
        stats=MappingProxyType({WEB: _stats(WEB, 2, packets=True), DB: _stats(DB, 1)}),
        sizes=MappingProxyType({WEB: ContainerSize(WEB, 187_000_000, 12_288),
                                DB: ContainerSize(DB, 431_000_000, 0),
                                JOB: ContainerSize(JOB, 5_000, 100)}),
        images=_images(),
        host=_host(swap_total=2_147_483_648, swap_free=2_000_000_000, git_commit="4c1a9c4",
                   rest=True),
        pods=(Pod(id=POD, name="shop", infra_id=INFRA, state=PodState.RUNNING, containers=3,
                  created=T0 - 3600.75),),
        volumes=(
            Volume("pgdata", "local", "/var/lib/containers/storage/volumes/pgdata/_data",
                   created=T0 - 7200.25),
            Volume("cache", "local", "/var/lib/containers/storage/volumes/cache/_data"),
        ),
        networks=(
            Network(NET, "shop", "bridge", "podman1",
                    MappingProxyType({"team": "a", "env": "prod"})),
            Network("2f259bab93aa" + "3" * 52, "podman", "bridge", "podman0"),
        ),
        collectors=_collectors(
            ("containers", "host", "images", "pods", "sizes", "stats", "volumes", "networks"),
            failed="stats",
        ),
        last_success=T0 - 30,
        admin_actions=MappingProxyType(
            {("delete_stopped_containers", "ok"): 2, ("stop_container", "not_found"): 1}
        ),
        publish_failures=1,
        last_publish=T0 - 15,
    )


HOSTILE_TEXTS = (
    'quote"inside',
    "back\\slash",
    "new\nline",
    "tab\tand\rreturn",
    "ünïcødé ✓ 🐳",
    "",
    "brace} and {brace",
    "trail\\",
    "equals=comma,",
    "# hash",
    "nul\x00byte",
    "lone surrogate \ud800",
)


def hostile_fleet() -> Snapshot:
    """Return a snapshot whose every string is hostile, with repeated names and tags."""
    containers = tuple(
        Container(
            id=f"{i:012x}" + text,
            name=text,
            image=text + ":" + text,
            image_id=text,
            state=ContainerState.RUNNING,
            ports=(PortMapping(text, text, text, text),),
            labels=MappingProxyType({"app": text, "io.podman/tier": text}),
            pod_id=text,
            pod_name=text,
        )
        for i, text in enumerate(HOSTILE_TEXTS)
    )
    # A container listed twice and two containers sharing a name.
    containers += (containers[0], Container(id="ffffffffffff", name=HOSTILE_TEXTS[0]))
    images = (
        Image(
            id="sha256:" + "ab" * 32,
            repo_tags=(
                *(f"reg:5000/{t}:{t}" for t in HOSTILE_TEXTS),
                "reg:5000/dup:1",
                "reg:5000/dup:1",
                "no-tag",
                "<none>:<none>",
            ),
            repo_digests=("reg:5000/dup@sha256:" + "12" * 32, "broken-digest"),
            digest=HOSTILE_TEXTS[5],
            size_bytes=1,
        ),
    )
    return Snapshot(
        taken_at=T0,
        endpoint="root",
        up=True,
        api="rest",
        containers=containers,
        stats=MappingProxyType({c.id: ContainerStats(id=c.id, pids=1) for c in containers}),
        images=images,
        host=HostInfo(
            hostname=HOSTILE_TEXTS[0],
            kernel=HOSTILE_TEXTS[1],
            os=HOSTILE_TEXTS[2],
            arch=HOSTILE_TEXTS[4],
            graph_root=HOSTILE_TEXTS[6],
            run_root=HOSTILE_TEXTS[11],
            version=VersionInfo(HOSTILE_TEXTS[3], "", HOSTILE_TEXTS[8], HOSTILE_TEXTS[9]),
        ),
        pods=tuple(Pod(id=t, name=t, infra_id=t) for t in HOSTILE_TEXTS) * 2,
        volumes=(*tuple(Volume(t, t, t) for t in HOSTILE_TEXTS), Volume("", "other", "x")),
        networks=tuple(Network(t, t, t, t, MappingProxyType({t: t})) for t in HOSTILE_TEXTS),
        collectors=_collectors(("containers",)) + _collectors(("containers",)),
        admin_actions=MappingProxyType({(t, t): 1 for t in HOSTILE_TEXTS}),
    )


def podman_down() -> Snapshot:
    """Return a snapshot of a collection in which Podman did not answer."""
    return Snapshot(
        taken_at=T0,
        endpoint="root",
        up=False,
        collectors=tuple(
            CollectorStatus(n, False, 0.001, errors_total=7)
            for n in ("containers", "host", "images", "stats")
        ),
        last_success=None,
    )


FLEETS = {
    "varlink": varlink_fleet,
    "rest": rest_fleet,
    "hostile": hostile_fleet,
    "podman_down": podman_down,
}
