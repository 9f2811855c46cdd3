"""The admin endpoint on a real Podman (REST): every route, asserting on Podman's state.

It uses a Podman of its own (its own storage and service), since prunes would remove the
containers the other end-to-end tests look at.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from exporter_proc import Exporter
from podman_env import IMAGE, PodmanEnv, busybox_rootfs, private_podman

TOKEN = "e2e-admin-token-0123456789"
UNUSED_IMAGE = "localhost/unused:e2e"


@pytest.fixture(scope="module")
def podman() -> Iterator[PodmanEnv]:
    with private_podman("pe-admin-") as env:
        yield env


@pytest.fixture
def zoo(podman: PodmanEnv) -> dict[str, str]:
    """Containers for one test (names -> ids), made anew each time."""
    podman.podman("rm", "-af", "-t", "0", check=False)
    net = ("--network", podman.network)
    sleep = (IMAGE, "sleep", "100000")
    names = {"run1": ["run", "-d", *net, "--name", "a-run1", *sleep],
             "run2": ["run", "-d", *net, "--name", "a-run2", *sleep],
             "paused": ["run", "-d", *net, "--name", "a-paused", *sleep],
             "exited": ["run", *net, "--name", "a-exited", IMAGE, "sh", "-c", "exit 2"],
             "created": ["create", *net, "--name", "a-created", *sleep]}
    podman.run_parallel([cmd for cmd in names.values() if cmd[0] != "run" or "-d" in cmd])
    podman.podman(*names["exited"], check=False)
    podman.podman("pause", "a-paused")
    return {role: podman.podman("inspect", "--format", "{{.Id}}", f"a-{role}").strip()
            for role in names}


@pytest.fixture
def exporter(podman: PodmanEnv, tmp_path: Path) -> Iterator[Exporter]:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    proc = Exporter(["--podman.url", podman.url, "--podman.api", "rest",
                     "--admin.token-file", str(token)], tmp_path / "exporter.log")
    try:
        proc.wait_for(lambda s: s["podman_up"][0].value == 1, "podman_up 1")
        yield proc
    finally:
        proc.stop()


def admin(exporter: Exporter, method: str, path: str,
          token: str | None = TOKEN) -> tuple[int, dict[str, object]]:
    url = exporter.url.removesuffix("/metrics") + path
    request = urllib.request.Request(url, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def ids(podman: PodmanEnv, *filters: str) -> set[str]:
    args = [a for f in filters for a in ("--filter", f)]
    return set(podman.podman("ps", "-a", "--no-trunc", "--format", "{{.ID}}", *args).split())


def status(podman: PodmanEnv, name: str) -> str:
    return podman.podman("inspect", "--format", "{{.State.Status}}", name).strip()


def test_prune_containers(podman: PodmanEnv, zoo: dict[str, str], exporter: Exporter) -> None:
    stopped = {zoo["exited"], zoo["created"]}
    code, body = admin(exporter, "POST", "/admin/containers/prune?dry_run=true")
    assert code == 200 and set(body["ids"]) == stopped  # type: ignore[arg-type]
    assert ids(podman) == set(zoo.values())  # the dry run removed nothing
    code, body = admin(exporter, "POST", "/admin/containers/prune")
    assert code == 200 and set(body["ids"]) == stopped  # type: ignore[arg-type]
    assert ids(podman) == set(zoo.values()) - stopped


def test_container_actions(podman: PodmanEnv, zoo: dict[str, str], exporter: Exporter) -> None:
    assert admin(exporter, "POST", "/admin/containers/a-run1/stop?timeout=0")[0] == 200
    assert status(podman, "a-run1") == "exited"
    assert admin(exporter, "POST", "/admin/containers/a-run1/restart?timeout=0")[0] == 200
    assert status(podman, "a-run1") == "running"
    assert admin(exporter, "POST", "/admin/containers/a-paused/unpause")[0] == 200
    assert status(podman, "a-paused") == "running"
    assert admin(exporter, "POST", "/admin/containers/a-paused/pause")[0] == 200
    assert status(podman, "a-paused") == "paused"
    code, body = admin(exporter, "POST", "/admin/containers/a-run2/kill?signal=9")
    assert code == 200 and body["ids"] == [zoo["run2"]]
    podman.podman("wait", "a-run2", check=False)
    assert status(podman, "a-run2") == "exited"
    code, body = admin(exporter, "DELETE", "/admin/containers/a-run1")
    assert code == 409 and "refused" in str(body["error"])  # running, no force
    assert zoo["run1"] in ids(podman)
    assert admin(exporter, "DELETE", "/admin/containers/a-run1?force=true")[0] == 200
    assert zoo["run1"] not in ids(podman)
    code, _ = admin(exporter, "POST", "/admin/containers/no-such-thing/stop")
    assert code == 404


def test_images(podman: PodmanEnv, zoo: dict[str, str], exporter: Exporter,
                tmp_path: Path) -> None:
    podman.podman("import", str(busybox_rootfs(tmp_path)), UNUSED_IMAGE)
    unused = podman.podman("image", "inspect", "--format", "{{.Id}}", UNUSED_IMAGE).strip()
    images = set(podman.podman("images", "-q", "--no-trunc").split())
    code, body = admin(exporter, "POST", "/admin/images/prune?dry_run=true")
    assert code == 200
    assert {i.removeprefix("sha256:") for i in body["ids"]} == {  # type: ignore[union-attr]
        unused.removeprefix("sha256:")}
    assert set(podman.podman("images", "-q", "--no-trunc").split()) == images
    code, body = admin(exporter, "DELETE", f"/admin/images/{IMAGE}")
    assert code == 409  # in use by containers
    code, body = admin(exporter, "POST", "/admin/images/prune")
    assert code == 200
    left = {i.removeprefix("sha256:") for i in podman.podman("images", "-q", "--no-trunc").split()}
    assert unused.removeprefix("sha256:") not in left and left
    code, _ = admin(exporter, "DELETE", "/admin/images/localhost/nothing:here")
    assert code == 404


def test_no_credentials_change_nothing(podman: PodmanEnv, zoo: dict[str, str],
                                       exporter: Exporter) -> None:
    before = {c: status(podman, f"a-{c}") for c in zoo}
    for method, path in (("POST", "/admin/containers/prune"), ("POST", "/admin/images/prune"),
                         ("POST", "/admin/containers/a-run1/stop"),
                         ("DELETE", "/admin/containers/a-run1?force=true"),
                         ("GET", "/admin/containers/prune")):
        for token in (None, "wrong-token-wrong-token"):
            code, _ = admin(exporter, method, path, token)
            assert code in (401, 405)
    assert {c: status(podman, f"a-{c}") for c in zoo} == before


def test_podman_down_gives_503_and_changes_nothing(podman: PodmanEnv, zoo: dict[str, str],
                                                   exporter: Exporter) -> None:
    podman.stop_service()
    try:
        code, body = admin(exporter, "POST", "/admin/containers/prune")
        assert code == 503, body
    finally:
        podman.start_service()
    assert ids(podman) == set(zoo.values())
