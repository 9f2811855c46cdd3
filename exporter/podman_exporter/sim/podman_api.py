"""The ``io.projectatomic.podman`` methods of the simulator, answered from the fleet."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import varlink

from podman_exporter.podman.interface import ERROR_PREFIX, METHOD_NOT_FOUND
from podman_exporter.sim.context import SimContext
from podman_exporter.sim.faults import nulled
from podman_exporter.sim.model import ActionFailed, NotFound

NOT_IMPLEMENTED = (
    "CreateContainer",
    "ResizeContainerTty",
    "StartContainer",
    "UpdateContainer",
    "RenameContainer",
    "AttachToContainer",
    "BuildImage",
    "CreateImage",
    "CreateFromContainer",
)
_NO_OUTSIDE = "the simulated service has no registry or file system access"


def podman_error(error: str, /, **parameters: Any) -> varlink.VarlinkError:
    """Return the varlink error ``io.projectatomic.podman.<name>``."""
    return varlink.VarlinkError({"error": ERROR_PREFIX + error, "parameters": parameters})


@contextmanager
def _podman_errors() -> Iterator[None]:
    """Turn fleet exceptions into the errors the real service answered with."""
    try:
        yield
    except NotFound as exc:
        kind = "ContainerNotFound" if exc.kind == "container" else "ImageNotFound"
        raise podman_error(kind, name=exc.name) from None
    except ActionFailed as exc:
        raise podman_error("ErrorOccurred", reason=str(exc)) from None


class PodmanAPI:
    """Handler of ``io.projectatomic.podman``; replies are plain dicts, not validated.

    ``varlink.Service`` only checks replies of generator methods, so malformed
    records injected by the faults reach the client as they are.
    """

    def __init__(self, ctx: SimContext) -> None:
        self._ctx = ctx

    def _reply(self, reply: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = nulled(reply) if self._ctx.faults.current.null_lists else reply
        return result

    # -- reads ---------------------------------------------------------------------------

    def Ping(self) -> dict[str, Any]:  # noqa: N802 - varlink method names
        """Return ``ping`` with message OK."""
        return {"ping": {"message": "OK"}}

    def GetVersion(self) -> dict[str, Any]:  # noqa: N802
        """Return ``version``."""
        return {"version": self._ctx.fleet.version()}

    def _info(self, method: str, answers_in_seed_naming: bool) -> dict[str, Any]:
        if self._ctx.faults.current.seed_naming != answers_in_seed_naming:
            raise varlink.VarlinkError(
                {"error": METHOD_NOT_FOUND, "parameters": {"method": method}}
            )
        return self._reply({"info": self._ctx.fleet.info()})

    def GetInfo(self) -> dict[str, Any]:  # noqa: N802
        """Return ``info``; MethodNotFound in seed-naming mode."""
        return self._info("GetInfo", False)

    def Info(self) -> dict[str, Any]:  # noqa: N802
        """Return ``info`` in seed-naming mode; MethodNotFound otherwise, as the real service."""
        return self._info("Info", True)

    def ListContainers(self) -> dict[str, Any]:  # noqa: N802
        """Return ``containers``."""
        malform = self._ctx.faults.malform
        records = [malform(r) for r in self._ctx.fleet.list_containers()]
        return self._reply({"containers": records})

    def GetContainer(self, name: str) -> dict[str, Any]:  # noqa: N802
        """Return ``container`` (ListContainerData)."""
        with _podman_errors():
            record = self._ctx.fleet.get_container(name)
        return self._reply({"container": self._ctx.faults.malform(record)})

    def GetContainerStats(self, name: str) -> dict[str, Any]:  # noqa: N802
        """Return ``container`` (ContainerStats; zeros for a container not running)."""
        with _podman_errors():
            record = self._ctx.fleet.container_stats(name)
        return {"container": self._ctx.faults.malform(record)}

    def InspectContainer(self, name: str) -> dict[str, Any]:  # noqa: N802
        """Return ``container``: the inspection JSON text."""
        with _podman_errors():
            return {"container": self._ctx.fleet.inspect_container(name)}

    def GetContainerLogs(self, name: str) -> dict[str, Any]:  # noqa: N802
        """Return ``container``: log lines."""
        with _podman_errors():
            return self._reply({"container": self._ctx.fleet.container_logs(name)})

    def ListContainerProcesses(self, name: str, opts: list[str]) -> dict[str, Any]:  # noqa: N802
        """Return ``container``: ps lines."""
        with _podman_errors():
            return {"container": self._ctx.fleet.container_processes(name)}

    def ListContainerChanges(self, name: str) -> dict[str, Any]:  # noqa: N802
        """Return ``container``: file system changes (one changed file)."""
        with _podman_errors():
            self._ctx.fleet.find(name)
        return self._reply({"container": {"changed": ["/etc"], "added": [], "deleted": []}})

    def ListImages(self) -> dict[str, Any]:  # noqa: N802
        """Return ``images``."""
        malform = self._ctx.faults.malform
        return self._reply({"images": [malform(r) for r in self._ctx.fleet.list_images()]})

    def InspectImage(self, name: str) -> dict[str, Any]:  # noqa: N802
        """Return ``image``: the inspection JSON text."""
        with _podman_errors():
            return {"image": self._ctx.fleet.inspect_image(name)}

    def HistoryImage(self, name: str) -> dict[str, Any]:  # noqa: N802
        """Return ``history``."""
        with _podman_errors():
            return self._reply({"history": self._ctx.fleet.history_image(name)})

    # -- actions -------------------------------------------------------------------------

    def StopContainer(self, name: str, timeout: int) -> dict[str, Any]:  # noqa: N802
        """Stop a container; return ``container`` (its id)."""
        with _podman_errors():
            return {"container": self._ctx.fleet.stop(name)}

    def RestartContainer(self, name: str, timeout: int) -> dict[str, Any]:  # noqa: N802
        """Restart a container; return its id."""
        with _podman_errors():
            return {"container": self._ctx.fleet.restart(name)}

    def KillContainer(self, name: str, signal: int) -> dict[str, Any]:  # noqa: N802
        """Signal a container (9 and 15 stop it); return its id."""
        with _podman_errors():
            return {"container": self._ctx.fleet.kill(name, signal if signal is not None else 9)}

    def PauseContainer(self, name: str) -> dict[str, Any]:  # noqa: N802
        """Pause a container; return its id."""
        with _podman_errors():
            return {"container": self._ctx.fleet.pause(name)}

    def UnpauseContainer(self, name: str) -> dict[str, Any]:  # noqa: N802
        """Unpause a container; return its id."""
        with _podman_errors():
            return {"container": self._ctx.fleet.unpause(name)}

    def RemoveContainer(self, name: str, force: bool) -> dict[str, Any]:  # noqa: N802
        """Remove a container (a running one needs force); return its id."""
        with _podman_errors():
            return {"container": self._ctx.fleet.remove(name, bool(force))}

    def WaitContainer(self, name: str) -> dict[str, Any]:  # noqa: N802
        """Wait until the container stops; return ``exitcode``."""
        with _podman_errors():
            return {"exitcode": self._ctx.fleet.wait(name, self._ctx.stop)}

    def DeleteStoppedContainers(self) -> dict[str, Any]:  # noqa: N802
        """Remove every container not running; return ``containers`` (ids)."""
        return self._reply({"containers": self._ctx.fleet.delete_stopped()})

    def RemoveImage(self, name: str, force: bool) -> dict[str, Any]:  # noqa: N802
        """Remove an image (one in use needs force); return its id."""
        with _podman_errors():
            return {"image": self._ctx.fleet.remove_image(name, bool(force))}

    def DeleteUnusedImages(self) -> dict[str, Any]:  # noqa: N802
        """Remove every image no container uses; return ``images`` (ids)."""
        return self._reply({"images": self._ctx.fleet.delete_unused_images()})

    def TagImage(self, name: str, tagged: str) -> dict[str, Any]:  # noqa: N802
        """Tag an image; return its id."""
        with _podman_errors():
            return {"image": self._ctx.fleet.tag_image(name, str(tagged))}

    def _outside(self, *_args: Any) -> dict[str, Any]:
        raise podman_error("ErrorOccurred", reason=_NO_OUTSIDE)

    ExportContainer = PushImage = SearchImage = ImportImage = ExportImage = PullImage = _outside

    def _not_implemented(self) -> dict[str, Any]:
        return {"notimplemented": {"comment": "not implemented"}}


for _name in NOT_IMPLEMENTED:
    setattr(PodmanAPI, _name, PodmanAPI._not_implemented)
