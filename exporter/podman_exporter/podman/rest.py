"""The libpod REST backend (Podman 3, 4 and 5) behind the PodmanBackend protocol.

One call per collector: ``containers/json?all=true``, one bulk
``containers/stats?stream=false&containers=...`` for the running containers,
``images/json``, ``info``, ``pods/json``, ``volumes/json``, ``networks/json``. Thread-safe: the
HTTP pool hands each thread its own keep-alive connection.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar

from podman_exporter.podman import rest_parse as parse
from podman_exporter.podman.backend import PodmanError
from podman_exporter.podman.corrections import measured, net_counters_swapped
from podman_exporter.podman.fields import Record, parse_records
from podman_exporter.podman.rest_http import HttpPool, Params, decode, socket_path, speaks_rest
from podman_exporter.snapshot.model import (
    Batch,
    Container,
    ContainerSize,
    ContainerStats,
    HostInfo,
    Image,
    Network,
    Pod,
    Volume,
)

__all__ = ["HttpTransport", "RestBackend", "speaks_rest"]

R = TypeVar("R")


class HttpTransport(Protocol):
    """What RestBackend uses of an HttpPool (tests hand it a stand-in replaying replies)."""

    @property
    def timeout(self) -> float:
        """Return the per-call timeout in seconds."""

    @property
    def server_version(self) -> str:
        """Return Podman's version as the last reply named it, "" if none did."""

    def request(
        self, method: str, path: str, params: Params = (), body: bytes | None = None,
        timeout: float | None = None,
    ) -> tuple[int, bytes]:
        """Return (status, body) of one request under the libpod prefix."""

    def get_json(self, path: str, params: Params = ()) -> Any:
        """Return the decoded JSON body of a GET."""

    def close(self) -> None:
        """Close the idle connections."""


class RestBackend:
    """Podman's libpod REST API on a unix socket, e.g. ``unix:///run/podman/podman.sock``."""

    def __init__(self, url: str, timeout: float = 5.0, connections: int = 4,
                 http: HttpTransport | None = None) -> None:
        """``http`` replaces the HttpPool on ``url`` (tests replay recorded replies)."""
        self.url = url
        self._http: HttpTransport = (
            http if http is not None else HttpPool(socket_path(url), timeout, connections)
        )

    @property
    def api(self) -> str:
        """Return ``"rest"``."""
        return "rest"

    def ping(self) -> None:
        """Return when ``GET /_ping`` answers; raise PodmanUnavailable otherwise."""
        status, body = self._http.request("GET", "/_ping")
        if status != 200:
            raise PodmanError(f"_ping: HTTP {status}: {body[:200]!r}")

    def _batch(self, path: str, record: Callable[[Record], R], kind: str, **q: str) -> Batch[R]:
        return parse_records(self._http.get_json(path, q.items()), record, kind)

    def list_containers(self) -> Batch[Container]:
        """Return every container, running or not (one ``containers/json?all=true``)."""
        return self._batch("/containers/json", parse.container, "container", all="true")

    def container_sizes(self) -> Batch[ContainerSize]:
        """Return every container's disk use (one ``containers/json?all=true&size=true``)."""
        return self._batch("/containers/json", parse.size, "container size", all="true",
                           size="true")

    def container_stats(self, ids: Sequence[str]) -> Batch[ContainerStats]:
        """Return stats for the given containers in one request; vanished ones are left out.
        Network counters are corrected for the Podman version that sent them.

        Podman fails the whole explicit-id request (``Stats: null``) when one id
        has gone; the backend then asks once for every container's stats and
        keeps the requested ones. Zero-filled entries (a container that stopped
        meanwhile) are left out.
        """
        if not ids:
            return Batch()
        params = [("stream", "false"), *(("containers", i) for i in ids)]
        reply = self._http.get_json("/containers/stats", params)
        if not _stats_ok(reply):
            reply = self._http.get_json("/containers/stats", [("stream", "false"),
                                                              ("all", "true")])
            if not _stats_ok(reply):
                raise PodmanError(f"containers/stats failed: {_stats_error(reply)}")
        batch = parse_records(reply["Stats"], self._stats_parser(), "stats")
        wanted = set(ids)
        batch = Batch(tuple(s for s in batch.items if s.id in wanted), batch.bad)
        return measured(batch)

    def _stats_parser(self) -> Callable[[Record], ContainerStats]:
        """Return the stats parser for the Podman version that sent the last reply."""
        return partial(parse.stats, swapped=net_counters_swapped(self._http.server_version))

    def stats_of(self, name: str) -> tuple[str, ContainerStats]:
        """Return (container name, stats) of one container by name or id; raise NotFound.

        A container that is not running has all-zero stats, as Podman reports them.
        """
        query = [("stream", "false"), ("containers", name)]
        reply = self._http.get_json("/containers/stats", query)
        if not _stats_ok(reply) or not reply["Stats"]:
            self.inspect_container(name)  # raises NotFound when it is gone
            raise PodmanError(f"containers/stats {name}: {_stats_error(reply)}")
        raw = reply["Stats"][0]
        batch = parse_records([raw], self._stats_parser(), "stats")
        if not batch.items:
            raise PodmanError(f"containers/stats {name}: malformed reply")
        return Record(raw).text("Name") or name, batch.items[0]

    def inspect_container(self, name: str) -> Any:
        """Return the decoded ``containers/{name}/json`` document; raise NotFound."""
        return self._http.get_json(f"/containers/{name}/json")

    def inspect_image(self, name: str) -> Any:
        """Return the decoded ``images/{name}/json`` document; raise NotFound."""
        return self._http.get_json(f"/images/{name}/json")

    def list_images(self) -> Batch[Image]:
        """Return every image in local storage, intermediate images included (as the Go
        exporter lists them)."""
        return self._batch("/images/json", parse.image, "image", all="true")

    def host_info(self) -> Batch[HostInfo]:
        """Return host, store and version information from ``info``."""
        batch = parse_records([self._http.get_json("/info")], parse.host_info, "host info")
        if not batch.items:
            raise PodmanError("info: the reply is not an object")
        return batch

    def list_pods(self) -> Batch[Pod]:
        """Return every pod."""
        return self._batch("/pods/json", parse.pod, "pod")

    def list_volumes(self) -> Batch[Volume]:
        """Return every volume."""
        return self._batch("/volumes/json", parse.volume, "volume")

    def list_networks(self) -> Batch[Network]:
        """Return every network."""
        return self._batch("/networks/json", parse.network, "network")

    # Maintenance actions -------------------------------------------------------------

    def _post(self, path: str, grace: float = 0.0, **q: str) -> Any:
        timeout = self._http.timeout + grace
        return decode(*self._http.request("POST", path, q.items(), timeout=timeout), what=path)

    def _container_id(self, name: str) -> str:
        return _id_of(self.inspect_container(name), name)

    def delete_stopped_containers(self) -> list[str]:
        """Remove every container that is not running; return their ids."""
        return _pruned(self._post("/containers/prune"))

    def delete_unused_images(self) -> list[str]:
        """Remove every image no container uses (not only dangling ones); return their ids."""
        return _pruned(self._post("/images/prune", all="true"))

    def stop_container(self, name: str, timeout: int) -> str:
        """Stop a container; return its id."""
        cid = self._container_id(name)
        self._post(f"/containers/{cid}/stop", grace=timeout, timeout=str(timeout))
        return cid

    def restart_container(self, name: str, timeout: int) -> str:
        """Restart a container; return its id."""
        cid = self._container_id(name)
        self._post(f"/containers/{cid}/restart", grace=timeout, t=str(timeout))
        return cid

    def kill_container(self, name: str, signal: int) -> str:
        """Send a signal to a container; return its id."""
        cid = self._container_id(name)
        self._post(f"/containers/{cid}/kill", signal=str(signal))
        return cid

    def pause_container(self, name: str) -> str:
        """Pause a container; return its id."""
        cid = self._container_id(name)
        self._post(f"/containers/{cid}/pause")
        return cid

    def unpause_container(self, name: str) -> str:
        """Unpause a container; return its id."""
        cid = self._container_id(name)
        self._post(f"/containers/{cid}/unpause")
        return cid

    def remove_container(self, name: str, force: bool) -> str:
        """Remove a container; return its id."""
        cid = self._container_id(name)
        # force stops a running container first: kill it at once (timeout=0) rather than
        # wait Podman's default 10 s, which would outlast the call's timeout.
        query = [("force", "true"), ("timeout", "0")] if force else [("force", "false")]
        status, body = self._http.request("DELETE", f"/containers/{cid}", query)
        _raise_report_errors(decode(status, body, what=f"remove {name}"))
        return cid

    def remove_image(self, name: str, force: bool) -> str:
        """Remove an image as ``podman rmi NAME`` does; return its id.

        The name goes to Podman as given, not resolved to the id: a tag of an image with
        other tags is only untagged (with or without force), the image, its other tags
        and its containers stay; by id, or by its last name, the image is removed.
        """
        iid = _id_of(self.inspect_image(name), name)
        status, body = self._http.request(
            "DELETE", f"/images/{name}", [("force", str(force).lower())]
        )
        _raise_report_errors(decode(status, body, what=f"remove image {name}"))
        return iid

    def close(self) -> None:
        """Close the idle connections."""
        self._http.close()


def _stats_ok(reply: Any) -> bool:
    return isinstance(reply, dict) and reply.get("Error") is None and "Stats" in reply


def _stats_error(reply: Any) -> str:
    if isinstance(reply, dict):
        return json.dumps(reply.get("Error"))[:200]
    return f"unexpected reply {type(reply).__name__}"


def _id_of(doc: Any, name: str) -> str:
    if isinstance(doc, dict) and isinstance(doc.get("Id"), str):
        return str(doc["Id"])
    raise PodmanError(f"inspect {name}: reply has no Id")


def _pruned(reply: Any) -> list[str]:
    """Return the ids of a prune report list whose entries carry no error."""
    if not isinstance(reply, list):
        return []
    return [
        r["Id"] for r in reply if isinstance(r, dict) and isinstance(r.get("Id"), str)
        and not r.get("Err")
    ]


def _raise_report_errors(reply: Any) -> None:
    reports = reply if isinstance(reply, list) else [reply]
    for r in reports:
        if isinstance(r, dict):
            err = r.get("Err") or r.get("Errors")
            if err:
                raise PodmanError(str(err)[:300])
