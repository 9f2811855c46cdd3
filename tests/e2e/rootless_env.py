"""A genuinely rootless Podman REST service of a throwaway system user, made as root.

The user (``pe-rl-<random>``) gets a home and vfs storage in a temporary directory,
a range of subordinate ids in /etc/subuid and /etc/subgid (from 400000 up, not
overlapping existing ones) and ``/run/user/UID``; its ``podman system service``
listens on ``/run/user/UID/podman/podman.sock``. All of it goes away afterwards:
service, containers, the user's processes, the user and its group, the id ranges,
``/run/user/UID`` and the temporary directory.

Rootless here (see /work/shared/notes/real-podman.md): containers need
``--network none`` (/dev/net/tun is 0600), and libpod ``containers/stats`` answers
409 on this cgroup v1 host.
"""

from __future__ import annotations

import fcntl
import grp
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from podman_env import import_image, stop_service, wait_for_service

from support import require_tool as require
from support import unavailable

SUBID_FIRST = 400000
SUBID_COUNT = 65536
SUBID_LOCK = Path("/run/lock/podman-exporter-tests-subids.lock")
"""Held while a free subordinate id range is chosen and given, so that concurrent
test runs never share one (teardown kills every process in the range)."""

CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
tmp_dir = "{tmp}"
lock_type = "file"
events_logger = "file"
[network]
network_config_dir = "{net}"
"""

STORAGE_CONF = """\
[storage]
driver = "vfs"
rootless_storage_path = "{root}"
"""


@dataclass
class RootlessEnv:
    """One rootless Podman: CLI runner as the user plus its ``podman system service``."""

    name: str
    uid: int
    gid: int
    base: Path
    subid_first: int = 0
    service: subprocess.Popen[bytes] | None = None

    @property
    def run_dir(self) -> Path:
        """Return the user's ``XDG_RUNTIME_DIR`` (``/run/user/UID``)."""
        return Path(f"/run/user/{self.uid}")

    @property
    def home(self) -> Path:
        """Return the user's home directory."""
        return self.base / "home"

    @property
    def socket_path(self) -> Path:
        """Return the REST socket path."""
        return self.run_dir / "podman" / "podman.sock"

    @property
    def url(self) -> str:
        """Return the ``unix:///...`` URL of the REST socket."""
        return f"unix://{self.socket_path}"

    @property
    def env(self) -> dict[str, str]:
        """Return the environment every podman command of the user runs with."""
        return {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"),
            "HOME": str(self.home), "USER": self.name, "LOGNAME": self.name,
            "LANG": "C.UTF-8", "TMPDIR": str(self.base / "tmp"),
            "XDG_RUNTIME_DIR": str(self.run_dir),
            "CONTAINERS_CONF": str(self.base / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(self.base / "storage.conf"),
        }

    def as_user(self, *argv: str) -> list[str]:
        """Return ``argv`` run as the user (its uid, gid and groups)."""
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups",
                *argv]

    def podman(self, *args: str, check: bool = True) -> str:
        """Run podman as the user and return its stdout; raise with stderr when it fails
        and ``check``."""
        proc = subprocess.run(self.as_user("podman", *args), check=False, env=self.env,
                              cwd=self.base, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise RuntimeError(f"rootless podman {' '.join(args)} failed "
                               f"({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def load_image(self) -> None:
        """Import the end-to-end test image (podman_env.IMAGE) into the user's store."""
        import_image(self.podman, self.base)

    def start_service(self) -> None:
        """Start the user's ``podman system service``; return once it answers ``/_ping``."""
        self.socket_path.unlink(missing_ok=True)
        self.service = subprocess.Popen(
            self.as_user("podman", "system", "service", "--time=0", self.url),
            env=self.env, cwd=self.base, stdout=subprocess.DEVNULL,
            stderr=(self.base / "service.log").open("ab"), start_new_session=True)
        wait_for_service(self.service, self.socket_path, self.base / "service.log")

    def stop_service(self) -> None:
        """Stop the REST service (the containers keep running)."""
        stop_service(self.service)
        self.service = None

    def setup(self) -> None:
        """Create the user's directories and configuration, all owned by the user."""
        for sub in ("home", "tmp", "storage", "net"):
            (self.base / sub).mkdir()
        (self.base / "containers.conf").write_text(CONTAINERS_CONF.format(
            tmp=self.base / "tmp", net=self.base / "net"))
        (self.base / "storage.conf").write_text(STORAGE_CONF.format(root=self.base / "storage"))
        for path in (self.base, *self.base.iterdir()):
            os.chown(path, self.uid, self.gid)
        self.run_dir.parent.mkdir(mode=0o755, exist_ok=True)
        _rmtree(self.run_dir)  # left by a crashed run: useradd just gave out the uid
        self.run_dir.mkdir(mode=0o700)
        (self.run_dir / "podman").mkdir(mode=0o700)
        for path in (self.run_dir, self.run_dir / "podman"):
            os.chown(path, self.uid, self.gid)
            os.chmod(path, 0o700)

    def teardown(self) -> None:
        """Remove the containers, stop the service and kill what is left of the user."""
        for args in (("pod", "rm", "-af", "-t", "0"), ("rm", "-af", "-t", "0")):
            with suppress(subprocess.SubprocessError):
                self.podman(*args, check=False)
        self.stop_service()
        kill_uids(range(self.uid, self.uid + 1),
                  range(self.subid_first, self.subid_first + SUBID_COUNT))


def kill_uids(*uid_ranges: range) -> None:
    """SIGKILL every process whose real uid is in ``uid_ranges``; wait until none is left.

    Only used for the throwaway user and its subordinate ids: each process found was
    started by the test (the service, rootless Podman's pause process, conmon, the
    containers).
    """
    deadline = time.monotonic() + 10
    while True:
        found = [pid for pid, uid in _process_uids() if any(uid in r for r in uid_ranges)]
        if not found:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes of the rootless user survive SIGKILL: {found}")
        for pid in found:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def _process_uids() -> Iterator[tuple[int, int]]:
    """Yield (pid, real uid) of every process but zombies (they hold nothing and only
    their parent can make them go)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError):
            fields = dict(line.split(":", 1) for line in
                          (entry / "status").read_text().splitlines() if ":" in line)
            if not fields["State"].strip().startswith("Z"):
                yield int(entry.name), int(fields["Uid"].split()[0])


def _subid_ranges() -> list[tuple[int, int]]:
    """Return the (first, count) ranges of /etc/subuid and /etc/subgid."""
    ranges = []
    for file in (Path("/etc/subuid"), Path("/etc/subgid")):
        if not file.exists():
            continue
        for line in file.read_text().splitlines():
            fields = line.strip().split(":")
            if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
                ranges.append((int(fields[1]), int(fields[2])))
    return ranges


def free_subid_first() -> int:
    """Return the first id of a free range of SUBID_COUNT ids, from SUBID_FIRST up."""
    used = _subid_ranges()
    first = SUBID_FIRST
    while any(first < start + count and start < first + SUBID_COUNT for start, count in used):
        first += SUBID_COUNT
    return first


def _run(*argv: str) -> None:
    """Run a system administration command; raise with its stderr when it fails."""
    proc = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): "
                           f"{proc.stderr.strip()}")


def _remove_user(name: str) -> None:
    """Remove the user with its id ranges, and its group; skip what is already gone."""
    with suppress(KeyError):
        pwd.getpwnam(name)
        _run("userdel", name)
    with suppress(KeyError):
        grp.getgrnam(name)
        _run("groupdel", name)
    for file in (Path("/etc/subuid"), Path("/etc/subgid")):
        if file.exists() and any(line.startswith(f"{name}:")
                                 for line in file.read_text().splitlines()):
            raise RuntimeError(f"{file} still has a range of {name}")


def _rmtree(path: Path) -> None:
    """Remove a directory tree if it exists."""
    if path.exists():
        shutil.rmtree(path)


def _run_all(*steps: Callable[[], object]) -> None:
    """Run every step, even after one fails; then raise the first failure."""
    failure: BaseException | None = None
    for step in steps:
        try:
            step()
        except Exception as exc:
            failure = failure or exc
    if failure is not None:
        raise failure


@contextmanager
def rootless_podman(prefix: str) -> Iterator[RootlessEnv]:
    """Yield a rootless Podman of a new throwaway user with its REST service running;
    everything is removed afterwards, also when setup or the body fails.

    Needs root. A missing tool fails the test in CI and skips it elsewhere.
    """
    if os.geteuid() != 0:
        unavailable("a rootless Podman user can only be made as root")
    for tool in ("podman", "runc", "setpriv", "useradd", "usermod", "newuidmap",
                 "newgidmap"):
        require(tool)
    if not os.path.exists("/bin/busybox"):
        require("busybox")
    name = f"pe-rl-{secrets.token_hex(4)}"
    base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    env: RootlessEnv | None = None
    try:
        _run("useradd", "--system", "--user-group", "--no-create-home",
             f"--home-dir={base / 'home'}", "--shell=/usr/sbin/nologin", name)
        user = pwd.getpwnam(name)
        env = RootlessEnv(name, user.pw_uid, user.pw_gid, base)
        SUBID_LOCK.parent.mkdir(parents=True, exist_ok=True)
        with SUBID_LOCK.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            first = free_subid_first()
            last = first + SUBID_COUNT - 1
            _run("usermod", f"--add-subuids={first}-{last}", f"--add-subgids={first}-{last}",
                 name)
            env.subid_first = first
        env.setup()
        env.start_service()
        yield env
    finally:
        cleanup: list[Callable[[], object]] = []
        if env is not None:
            cleanup += [env.teardown, partial(_rmtree, env.run_dir)]
        _run_all(*cleanup, partial(_remove_user, name), partial(_rmtree, base))
