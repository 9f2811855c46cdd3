"""OOM kill counts read from fake cgroup v1 and v2 trees, and memory cgroup paths from a
fake /proc."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from podman_exporter.podman.kmsg import KernelOomLog, kill_in_record
from podman_exporter.podman.oom import (
    container_of_cgroup,
    kernel_oom_kill,
    memory_cgroup,
    oom_kills,
)

CID = "65e5dc3350de75324550ae3cbbafd14ebe994487eeb50d846407b84e7a94aab2"
CGROUP = f"/libpod_parent/libpod-{CID}"
# As this machine's kernel writes them (cgroup v1, hybrid mode) and as cgroup v2 does.
V1 = "oom_kill_disable 0\nunder_oom 0\noom_kill {n}\n"
V2 = "low 0\nhigh 0\nmax 12\noom {n}\noom_kill {n}\noom_group_kill 0\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v1(tmp_path: Path) -> None:
    write(tmp_path / "memory" / CGROUP[1:] / "memory.oom_control", V1.format(n=3))
    (tmp_path / "unified" / CGROUP[1:]).mkdir(parents=True)  # hybrid: no memory files there
    assert oom_kills(CGROUP, tmp_path) == 3


def test_cgroup_v2(tmp_path: Path) -> None:
    scope = "/machine.slice/libpod-abc.scope"
    write(tmp_path / scope[1:] / "memory.events", V2.format(n=2))
    assert oom_kills(scope, tmp_path) == 2


def test_zero_is_a_known_count(tmp_path: Path) -> None:
    write(tmp_path / "memory" / CGROUP[1:] / "memory.oom_control", V1.format(n=0))
    assert oom_kills(CGROUP, tmp_path) == 0


@pytest.mark.parametrize("data", [
    b"oom_kill_disable 0\nunder_oom 0\n",  # a kernel before 4.13: no counter
    b"oom_kill -1\n", b"oom_kill lots\n", b"oom_kill \n",
    "oom_kill \uff13\n".encode(),  # a full-width 3
    b"\xff\xfe", b"oom_kill 123456789012345678901\n",
])
def test_unknown_counts_are_none(tmp_path: Path, data: bytes) -> None:
    file = tmp_path / "memory" / CGROUP[1:] / "memory.oom_control"
    file.parent.mkdir(parents=True)
    file.write_bytes(data)
    assert oom_kills(CGROUP, tmp_path) is None


def test_gone_cgroup_is_none(tmp_path: Path) -> None:
    """A stopped container's cgroup is removed: unknown, never 0."""
    assert oom_kills(CGROUP, tmp_path) is None


@pytest.mark.parametrize("path", ["", "libpod_parent/x", "/../etc", "/a/../../b"])
def test_paths_outside_the_root_are_refused(tmp_path: Path, path: str) -> None:
    root = tmp_path / "root"
    write(tmp_path / "etc" / "memory.events", V2.format(n=1))
    write(tmp_path / "b" / "memory.events", V2.format(n=1))
    write(root / "libpod_parent" / "x" / "memory.events", V2.format(n=1))
    assert oom_kills(path, root) is None


def test_the_cgroup_root_itself(tmp_path: Path) -> None:
    write(tmp_path / "memory.events", V2.format(n=4))
    assert oom_kills("/", tmp_path) == 4


def test_memory_cgroup_of_a_process(tmp_path: Path) -> None:
    hybrid = "".join(f"{i}:{c}:{CGROUP}\n" for i, c in
                     [(9, "name=systemd"), (4, "memory"), (2, "cpu,cpuacct"), (0, "")])
    write(tmp_path / "22856" / "cgroup", hybrid)
    assert memory_cgroup(22856, tmp_path) == CGROUP
    write(tmp_path / "7" / "cgroup", "0::/machine.slice/libpod-abc.scope\n")
    assert memory_cgroup(7, tmp_path) == "/machine.slice/libpod-abc.scope"
    write(tmp_path / "8" / "cgroup", "5:cpu:/x\n")
    assert memory_cgroup(8, tmp_path) is None
    assert memory_cgroup(9, tmp_path) is None  # no such process
    assert memory_cgroup(0, tmp_path) is None  # a stopped container's pid


# As this machine's kernel (6.18) logged an OOM kill of a Podman 4.3 container.
KMSG = ("6,17191,11583424257,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),"
        f"cpuset=libpod-{CID},mems_allowed=0,oom_memcg={CGROUP},task_memcg={CGROUP},"
        "task=tail,pid=21925,uid=0")


def test_kernel_log_oom_kill_lines() -> None:
    assert kernel_oom_kill(KMSG) == CGROUP
    dmesg = "[11583.424257] " + KMSG.split(";", 1)[1]
    assert kernel_oom_kill(dmesg) == CGROUP
    pod = KMSG.replace(f"oom_memcg={CGROUP}", "oom_memcg=/libpod_parent/libpod_pod_77")
    assert kernel_oom_kill(pod) == CGROUP  # the killed process's cgroup, not the pod's
    no_task = KMSG.replace(f",task_memcg={CGROUP}", "")
    assert kernel_oom_kill(no_task) == CGROUP
    for other in ("3,17192,11583424274,-;Memory cgroup out of memory: Killed process 21925 "
                  "(tail) total-vm:34584kB", "", "oom-kill:", "tail invoked oom-killer"):
        assert kernel_oom_kill(other) is None


def test_container_of_cgroup() -> None:
    assert container_of_cgroup(CGROUP) == CID
    assert container_of_cgroup(f"/machine.slice/libpod-{CID}.scope") == CID
    assert container_of_cgroup(f"/machine.slice/libpod-{CID}.scope/container") == CID
    assert container_of_cgroup(f"/libpod_parent/libpod_pod_77/libpod-{CID}") == CID
    assert container_of_cgroup(f"/machine.slice/libpod-conmon-{CID}.scope") is None
    assert container_of_cgroup(f"/libpod_parent/libpod-{CID[:12]}") is None
    assert container_of_cgroup("/libpod_parent/libpod_pod_77") is None


def test_a_kernel_log_record_names_the_killed_container() -> None:
    assert kill_in_record(KMSG.encode()) == CID
    assert kill_in_record(b"6,17192,11583424300,-;Memory cgroup out of memory: Killed") is None


def test_the_kernel_log_reader_reports_kills_written_after_it_started(tmp_path: Path) -> None:
    log = tmp_path / "kmsg"
    log.write_bytes(KMSG.encode())  # before the start: not reported
    kills: list[str] = []
    reader = KernelOomLog(kills.append, str(log))
    assert reader.start()
    try:
        with log.open("ab") as out:
            out.write(KMSG.encode())
        deadline = time.monotonic() + 30
        while not kills and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        reader.stop()
    assert kills == [CID]
    assert not KernelOomLog(kills.append, str(tmp_path / "missing")).start()
