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
from podman_env import IMAGE, PodmanEnv, busybox_rootfs, free_port, private_podman

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
    admin_port = free_port()
    proc = Exporter(["--podman.url", podman.url, "--podman.api", "rest",
                     "--admin.token-file", str(token),
                     "--admin.listen-address", f"127.0.0.1:{admin_port}"],
                    tmp_path / "exporter.log")
    proc.admin_port = admin_port  # type: ignore[attr-defined]
    try:
        proc.wait_for(lambda s: s["podman_up"][0].value == 1, "podman_up 1")
        yield proc
    finally:
        proc.stop()


def admin(exporter: Exporter, method: str, path: str, token: str | None = TOKEN, *,
          headers: dict[str, str] | None = None, body: bytes | None = None,
          port: int | None = None) -> tuple[int, dict[str, object]]:
    port = exporter.admin_port if port is None else port  # type: ignore[attr-defined]
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=body, headers=headers or {})
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        data = err.read()
        return err.code, json.loads(data) if data.startswith(b"{") else {}


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


def test_removing_one_tag_only_untags(podman: PodmanEnv, exporter: Exporter,
                                      tmp_path: Path) -> None:
    """DELETE of one tag of an image with two tags is `podman rmi TAG`: that tag goes,
    the other tag, the image and its containers stay, with or without force."""
    one, two = "localhost/multitag:one", "localhost/multitag:two"
    podman.podman("import", str(busybox_rootfs(tmp_path)), one)
    image = podman.podman("image", "inspect", "--format", "{{.Id}}", one).strip()
    podman.podman("create", "--network", podman.network, "--name", "a-tagged", one,
                  "sleep", "100000")
    user = podman.podman("inspect", "--format", "{{.Id}}", "a-tagged").strip()

    def tags() -> set[str]:
        return set(podman.podman("images", "--format", "{{.Repository}}:{{.Tag}}").split())

    try:
        for force in ("false", "true"):
            podman.podman("tag", one, two)
            assert {one, two} <= tags()
            code, body = admin(exporter, "DELETE", f"/admin/images/{two}?force={force}")
            assert code == 200, (force, body)
            assert two not in tags() and one in tags(), force
            assert image in podman.podman("images", "-q", "--no-trunc"), force
            assert user in ids(podman), force
            assert podman.podman("image", "inspect", "--format", "{{.Id}}", one).strip() == image
    finally:
        podman.podman("rm", "-f", "a-tagged", check=False)
        podman.podman("rmi", "-f", image, check=False)


def test_cross_site_and_metrics_port_change_nothing(podman: PodmanEnv, zoo: dict[str, str],
                                                    exporter: Exporter) -> None:
    """With the right token, a cross-site form POST, a text/plain POST and any
    /admin request on the metrics port are refused and Podman is untouched."""
    before = ids(podman)
    form = {"Content-Type": "application/x-www-form-urlencoded",
            "Origin": "http://evil.example"}
    code, body = admin(exporter, "POST", "/admin/containers/prune", headers=form,
                       body=b"dry_run=false")
    assert code == 403, body
    code, body = admin(exporter, "POST", "/admin/containers/prune",
                       headers={"Content-Type": "text/plain"}, body=b"{}")
    assert code == 403, body
    code, _ = admin(exporter, "POST", "/admin/containers/prune", port=exporter.port)
    assert code == 404
    with urllib.request.urlopen(exporter.url.removesuffix("metrics"), timeout=10) as resp:
        assert b"/admin" not in resp.read()
    assert ids(podman) == before
