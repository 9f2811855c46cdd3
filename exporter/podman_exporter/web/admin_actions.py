"""The admin actions, listed once: route, method, parameters, and what each does."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from podman_exporter.podman.backend import PodmanBackend
from podman_exporter.snapshot.model import ContainerState

CONTAINER_NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,252})"
IMAGE_NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,254})"
MAX_TIMEOUT = 3600
_KEEP = (ContainerState.RUNNING, ContainerState.PAUSED)


class BadRequest(ValueError):
    """A parameter is missing, unknown or out of range."""


@dataclass(frozen=True, slots=True)
class Call:
    """One validated request: the target name (if any) and the parameters."""

    target: str = ""
    timeout: int = 10
    signal: int = 15
    force: bool = False
    dry_run: bool = False


def _flag(key: str, text: str) -> bool:
    if text.lower() in ("true", "1"):
        return True
    if text.lower() in ("false", "0"):
        return False
    raise BadRequest(f"{key} must be true or false, got {text[:20]!r}")


def _number(key: str, text: str, low: int, high: int) -> int:
    if not re.fullmatch(r"-?\d{1,6}", text) or not low <= int(text) <= high:
        raise BadRequest(f"{key} must be a whole number from {low} to {high}, got {text[:20]!r}")
    return int(text)


_PARSERS: Mapping[str, Callable[[str], object]] = {
    "timeout": lambda t: _number("timeout", t, 0, MAX_TIMEOUT),
    "signal": lambda t: _number("signal", t, 1, 64),
    "force": lambda t: _flag("force", t),
    "dry_run": lambda t: _flag("dry_run", t),
}


def prunable_containers(backend: PodmanBackend) -> list[str]:
    """Return the ids of containers a prune removes: every one not running or paused."""
    return sorted(c.id for c in backend.list_containers().items if c.state not in _KEEP)


def unused_images(backend: PodmanBackend) -> list[str]:
    """Return the ids of images no container uses."""
    used = {c.image_id.removeprefix("sha256:") for c in backend.list_containers().items}
    unused = []
    for image in backend.list_images().items:
        bare = image.id.removeprefix("sha256:")
        referenced = any(u and (bare.startswith(u) or u.startswith(bare)) for u in used)
        if not referenced and not image.containers:
            unused.append(image.id)
    return sorted(unused)


@dataclass(frozen=True)
class Action:
    """One admin route."""

    name: str
    method: str
    pattern: str
    doc: str
    params: Sequence[str] = ()
    run: Callable[[PodmanBackend, Call], list[str]] = field(default=lambda b, c: [])
    preview: Callable[[PodmanBackend], list[str]] | None = None

    @property
    def route(self) -> re.Pattern[str]:
        """Return the compiled path pattern."""
        return re.compile(self.pattern)

    def describe(self) -> dict[str, object]:
        """Return the listing entry of GET /admin/."""
        return {"action": self.name, "method": self.method,
                "path": re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", self.pattern),
                "params": list(self.params), "doc": self.doc}

    def parse(self, path_params: Mapping[str, str], query: Mapping[str, str],
              strict_keys: Sequence[tuple[str, str]]) -> Call:
        """Return the Call for a request; raise BadRequest on any bad parameter."""
        keys = [k for k, _ in strict_keys]
        for key in keys:
            if key not in self.params:
                raise BadRequest(f"unknown parameter {key[:30]!r} (this action takes: "
                                 f"{', '.join(self.params) or 'none'})")
        if len(set(keys)) != len(keys):
            raise BadRequest("a parameter is given twice")
        values = {k: _PARSERS[k](v) for k, v in query.items()}
        return Call(target=path_params.get("name", ""), **values)  # type: ignore[arg-type]

    def perform(self, backend: PodmanBackend, call: Call) -> list[str]:
        """Return the affected ids (for a dry run: the ids that would be affected)."""
        if call.dry_run and self.preview is not None:
            return self.preview(backend)
        return self.run(backend, call)


def _one(result: str) -> list[str]:
    return [result] if result else []


C = "/admin/containers/"
ACTIONS: tuple[Action, ...] = (
    Action("containers_prune", "POST", r"/admin/containers/prune",
           "remove every container that is not running or paused", ("dry_run",),
           lambda b, c: sorted(b.delete_stopped_containers()), prunable_containers),
    Action("images_prune", "POST", r"/admin/images/prune",
           "remove every image no container uses", ("dry_run",),
           lambda b, c: sorted(b.delete_unused_images()), unused_images),
    Action("container_stop", "POST", C + CONTAINER_NAME + "/stop",
           "stop a container (timeout: seconds before it is killed)", ("timeout",),
           lambda b, c: _one(b.stop_container(c.target, c.timeout))),
    Action("container_restart", "POST", C + CONTAINER_NAME + "/restart",
           "restart a container", ("timeout",),
           lambda b, c: _one(b.restart_container(c.target, c.timeout))),
    Action("container_kill", "POST", C + CONTAINER_NAME + "/kill",
           "send a signal (1-64, default 15) to a container", ("signal",),
           lambda b, c: _one(b.kill_container(c.target, c.signal))),
    Action("container_pause", "POST", C + CONTAINER_NAME + "/pause", "pause a container", (),
           lambda b, c: _one(b.pause_container(c.target))),
    Action("container_unpause", "POST", C + CONTAINER_NAME + "/unpause",
           "unpause a container", (), lambda b, c: _one(b.unpause_container(c.target))),
    Action("container_remove", "DELETE", C + CONTAINER_NAME,
           "remove a container (force: stop it first if running)", ("force",),
           lambda b, c: _one(b.remove_container(c.target, c.force))),
    Action("image_remove", "DELETE", "/admin/images/" + IMAGE_NAME,
           "remove an image (force: also the containers using it)", ("force",),
           lambda b, c: _one(b.remove_image(c.target, c.force))),
)
