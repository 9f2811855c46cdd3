"""Podman endpoints: what ``--podman.url [NAME=]URL`` names, and the rootless sockets found
under ``/run/user``.

Every series carries ``endpoint="NAME"``. A name not given is derived from the URL so
that it stays the same across restarts and reads well: ``root`` for the rootful
sockets, the login name of the user for ``/run/user/UID/...``, ``user@host`` for ssh,
``host:port`` for tcp.
"""

from __future__ import annotations

import os
import pwd
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:-]{0,63}")
"""An endpoint name: what may stand before ``=`` in ``--podman.url``."""
_NAMED = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.@-]{0,63})=(.+)", re.DOTALL)
"""``NAME=URL``: the name holds no ``:`` or ``/``, so no URL is mistaken for one."""
_USER_RUNTIME = re.compile(r"/run/user/(\d+)(/|$)")
ROOTLESS_SOCKET = "podman/podman.sock"
"""Where a user's Podman API socket lives under the user's runtime directory."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One Podman to watch: its name (the ``endpoint`` label) and its URL."""

    name: str
    url: str
    discovered: bool = False
    """Found by ``--podman.discover-rootless`` (dropped again when its socket goes)."""


def user_name(uid: int) -> str:
    """Return the login name of ``uid``, or ``uid<N>`` when the user database has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid{uid}"


def derive_name(url: str) -> str:
    """Return the name of an endpoint given without one (see the module docstring)."""
    if url.startswith("unix:"):
        path = "/" + url[5:].split(";", 1)[0].lstrip("/")
        user = _USER_RUNTIME.match(path)
        if user:
            return user_name(int(user.group(1)))
        if path.startswith(("/run/podman/", "/run/io.projectatomic.podman", "/var/run/podman/")):
            return "root"
        return Path(path).stem or "podman"
    parts = urlsplit(url)
    if parts.scheme == "ssh":
        host = parts.hostname or "localhost"
        return f"{parts.username}@{host}" if parts.username else host
    if parts.hostname:
        return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    return url.split(":", 1)[-1].strip("/") or "podman"


def parse_endpoint(text: str) -> Endpoint:
    """Return the endpoint of one ``--podman.url`` value, ``NAME=URL`` or ``URL``; raise
    ValueError for an empty URL."""
    named = _NAMED.fullmatch(text.strip())
    name, url = (named.group(1), named.group(2).strip()) if named else ("", text.strip())
    if not url:
        raise ValueError(f"no URL in {text!r}")
    return Endpoint(name or derive_name(url), url)


def check_unique(endpoints: list[Endpoint]) -> None:
    """Raise ValueError naming the first name two endpoints share."""
    seen: dict[str, str] = {}
    for endpoint in endpoints:
        if endpoint.name in seen:
            raise ValueError(f"two endpoints are named {endpoint.name!r} ({seen[endpoint.name]} "
                             f"and {endpoint.url}): name them with NAME=URL")
        seen[endpoint.name] = endpoint.url


def rootless_endpoints(runtime_root: str = "/run/user") -> list[Endpoint]:
    """Return an endpoint for every user's Podman socket under ``runtime_root``
    (``/run/user/UID/podman/podman.sock`` that is a socket), sorted by name. Root's own
    (uid 0) is left out: a Podman run by root serves the rootful store."""
    found = []
    try:
        entries = list(os.scandir(runtime_root))
    except OSError:
        return []
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) == 0:
            continue
        path = os.path.join(entry.path, ROOTLESS_SOCKET)
        try:
            if not stat.S_ISSOCK(os.stat(path).st_mode):
                continue
        except OSError:
            continue
        found.append(Endpoint(user_name(int(entry.name)), f"unix://{path}", discovered=True))
    return sorted(found, key=lambda e: e.name)
