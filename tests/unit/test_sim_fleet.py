"""The simulated fleet, driven directly with a fake clock."""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
from collections import Counter

import pytest

from podman_exporter.sim.build import HOSTILE_NAMES
from podman_exporter.sim.fleet import ActionFailed, Fleet, NotFound
from podman_exporter.sim.options import SimOptions

GO_TIME = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})? [+-]\d{4} \S+( m=[+-]\d+\.\d{9})?$"
)
GO_DURATION = re.compile(r"^(\d+h)?(\d+m)?\d+(\.\d+)?(s|ms|µs|ns)$")


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make(clock: FakeClock | None = None, **kw: object) -> Fleet:
    opts: dict[str, object] = {"containers": 200, "images": 24, "seed": 7, "start_wall": 1.5e9}
    opts.update(kw)
    return Fleet(SimOptions(clock=clock or FakeClock(), **opts))  # type: ignore[arg-type]


def test_same_seed_same_fleet_other_seed_other_fleet() -> None:
    assert make().list_containers() == make().list_containers()
    assert make().list_images() == make().list_images()
    assert {c["id"] for c in make().list_containers()} != {
        c["id"] for c in make(seed=8).list_containers()
    }


def test_states_mixed_and_values_as_the_real_service() -> None:
    records = make().list_containers()
    states = Counter(r["status"] for r in records)
    assert states["running"] > len(records) / 2
    assert {"exited", "paused", "created", "configured"} <= set(states)
    for r in records:
        assert r["containerrunning"] is (r["status"] == "running")
        assert isinstance(r["names"], str)
        assert GO_TIME.match(r["createdat"]), r["createdat"]
        assert GO_DURATION.match(r["runningfor"]), r["runningfor"]
        assert isinstance(r["ports"], list)
        assert isinstance(r["mounts"], list)
    assert any(r["ports"] for r in records)
    assert any(r["mounts"] for r in records)


def test_exited_containers_have_exit_codes() -> None:
    fleet = make()
    codes = {fleet.find(n).exit_code for n in fleet.containers_in("exited")}
    assert 0 in codes
    assert codes - {0}


def test_images_shared_unused_and_untagged() -> None:
    images = make().list_images()
    used = Counter(im["containers"] for im in images)
    assert used[0] > 0
    assert any(n >= 2 for n in used)
    assert any(im["repoTags"] == [] for im in images)
    assert any(im["repoTags"] == ["<none>:<none>"] for im in images)
    for im in images:
        assert im["size"] == 0
        assert im["virtualSize"] > 0
        assert GO_TIME.match(im["created"])


def test_info_and_version_fields_left_as_the_real_service() -> None:
    fleet = make()
    info = fleet.info()
    assert info["host"]["swap_total"] == 0
    assert info["podman"]["podman_version"] == ""
    assert re.match(r"^\d+h \d+m [\d.]+s \(Approximately [\d.]+ days\)$", info["host"]["uptime"])
    assert info["store"]["containers"] == 200
    assert fleet.version()["version"]


def test_counters_grow_while_running_and_stay_when_stopped() -> None:
    clock = FakeClock()
    fleet = make(clock)
    running = fleet.containers_in("running")[0]
    before = fleet.container_stats(running)
    clock.t += 30
    after = fleet.container_stats(running)
    for key in ("cpu_nano", "system_nano", "net_input", "net_output"):
        assert after[key] > before[key], key
    for key in ("block_input", "block_output"):
        assert after[key] >= before[key], key
    fleet.stop(running)
    clock.t += 30
    assert fleet.container_stats(running)["cpu_nano"] == 0


def test_stats_of_non_running_containers_are_zero() -> None:
    fleet = make()
    for name in fleet.containers_in("exited") + fleet.containers_in("created"):
        stats = fleet.container_stats(name)
        assert stats["name"] == name
        numbers = {k: v for k, v in stats.items() if k not in ("id", "name")}
        assert set(numbers.values()) == {0}


def test_memory_fluctuates_below_limit() -> None:
    clock = FakeClock()
    fleet = make(clock)
    name = fleet.containers_in("running")[0]
    seen = set()
    for _ in range(50):
        clock.t += 7
        stats = fleet.container_stats(name)
        assert 0 < stats["mem_usage"] < stats["mem_limit"]
        assert stats["mem_perc"] == pytest.approx(stats["mem_usage"] / stats["mem_limit"] * 100)
        seen.add(stats["mem_usage"])
    assert len(seen) > 10


def test_busy_containers_exist_and_can_be_made() -> None:
    clock = FakeClock()
    fleet = make(clock, containers=400)
    before = {n: fleet.container_stats(n)["cpu_nano"] for n in fleet.containers_in("running")}
    clock.t += 10
    used = {n: fleet.container_stats(n)["cpu_nano"] - v for n, v in before.items()}
    assert max(used.values()) > 5e9  # some container uses more than half a core
    idle = min(used, key=lambda n: used[n])
    fleet.set_cpu_busy(idle, True)
    start = fleet.container_stats(idle)["cpu_nano"]
    clock.t += 10
    assert fleet.container_stats(idle)["cpu_nano"] - start == pytest.approx(15e9, rel=0.01)


def test_lookup_by_id_name_and_unique_prefix() -> None:
    fleet = make()
    c = fleet.list_containers()[0]
    assert fleet.find(c["id"]).name == c["names"]
    assert fleet.find(c["names"]).id == c["id"]
    assert fleet.find(c["id"][:12]).id == c["id"]
    with pytest.raises(NotFound):
        fleet.find("")
    with pytest.raises(NotFound):
        fleet.find("no-such-container")
    ids = sorted(fleet.ids())
    shared = next(a[:1] for a, b in itertools.pairwise(ids) if a[:1] == b[:1])
    with pytest.raises(NotFound):
        fleet.find(shared)


def test_churn_creates_and_removes_and_changes_states() -> None:
    clock = FakeClock()
    fleet = make(clock, churn_per_minute=30)
    ids = set(fleet.ids())
    states = Counter(r["status"] for r in fleet.list_containers())
    clock.t += 120
    summary = fleet.summary()
    assert summary["created_total"] == 30
    assert summary["removed_total"] == 30
    now = set(fleet.ids())
    assert now - ids
    assert ids - now
    assert Counter(r["status"] for r in fleet.list_containers()) != states
    created = [r for r in fleet.list_containers() if r["id"] in now - ids]
    assert all(" m=+" in r["createdat"] for r in created)


def test_hostile_names_only_when_asked() -> None:
    plain = {r["names"] for r in make(containers=300).list_containers()}
    hostile = {r["names"] for r in make(containers=300, hostile_names=True).list_containers()}
    assert not any(h in n for n in plain for h in HOSTILE_NAMES)
    assert any(h in n for n in hostile for h in HOSTILE_NAMES)
    labels = [r["labels"] for r in make(containers=300, hostile_names=True).list_containers()]
    assert any("id" in lab and "a.b" in lab and "a_b" in lab for lab in labels)


def test_actions_follow_podman_rules() -> None:
    fleet = make()
    running = fleet.containers_in("running")
    with pytest.raises(ActionFailed):
        fleet.remove(running[0], force=False)
    fleet.remove(running[0], force=True)
    with pytest.raises(NotFound):
        fleet.find(running[0])
    fleet.kill(running[1], 9)
    assert (fleet.find(running[1]).status, fleet.find(running[1]).exit_code) == ("exited", 137)
    with pytest.raises(ActionFailed):
        fleet.kill(running[2], 65)
    fleet.kill(running[2], 1)
    assert fleet.find(running[2]).status == "running"
    fleet.pause(running[3])
    with pytest.raises(ActionFailed):
        fleet.pause(running[3])
    fleet.unpause(running[3])
    assert fleet.find(running[3]).status == "running"
    deleted = set(fleet.delete_stopped())
    assert deleted
    assert {r["status"] for r in fleet.list_containers()} <= {"running", "paused"}
    unused = fleet.delete_unused_images()
    assert unused
    assert all(im["containers"] > 0 for im in fleet.list_images())


def test_concurrent_calls_and_churn_are_safe() -> None:
    clock = FakeClock()
    fleet = make(clock, containers=40, churn_per_minute=600)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(100):
                clock.t += 0.05
                for cid in fleet.ids()[:5]:
                    with contextlib.suppress(NotFound):
                        fleet.container_stats(cid)
                fleet.list_containers()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert fleet.summary()["created_total"] > 0
