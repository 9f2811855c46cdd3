"""A Debian 12 (bookworm) base image with python3, made without any registry.

mmdebstrap writes a minimal bookworm root filesystem (the essential packages plus
python3, python3-venv, ca-certificates and passwd; no manuals, docs or
translations) from the Debian mirrors apt uses on this machine, and
``podman import`` makes it an image. The tarball is cached under
``~/.cache/podman-exporter/`` (``$XDG_CACHE_HOME`` if set) and the image is tagged,
both keyed by the mmdebstrap command line, so later runs reuse them.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

SUITE = "bookworm"
PACKAGES = ("passwd", "python3", "python3-venv", "ca-certificates")
DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
)
REPOSITORY = "localhost/podman-exporter-base"
FALLBACK_MIRROR = "http://deb.debian.org/debian"
DEBIAN_ALIASES = {"stable", "oldstable", "oldoldstable", "testing", "unstable", "sid"}
SUITE_SUFFIXES = {"", "updates", "security"}


def cache_dir() -> Path:
    """Return the directory the base tarballs are cached in."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "podman-exporter"


def _host_codename() -> str:
    """Return this machine's release codename (``VERSION_CODENAME`` of os-release)."""
    for line in Path("/etc/os-release").read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "VERSION_CODENAME":
            return value.strip('"')
    return ""


def apt_sources() -> list[str]:
    """Return ``deb URI SUITE main`` lines for bookworm on the Debian mirrors apt uses here.

    apt itself lists its configured repositories (``apt-get indextargets``, both the
    one-line and the deb822 formats); those whose suite is this machine's release
    (or a Debian alias such as ``stable``), plain or ``-updates``/``-security``, give
    their mirror for the same bookworm suite. Without any, Debian's own
    redirector is used.
    """
    done = subprocess.run(
        ["apt-get", "indextargets", "--no-release-info",
         "--format", "$(REPO_URI) $(RELEASE)",
         "Created-By: Packages", "Target-Of: deb", "Component: main"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    known = {_host_codename(), *DEBIAN_ALIASES} - {""}
    lines: list[str] = []
    for entry in done.stdout.splitlines() if done.returncode == 0 else []:
        uri, _, release = entry.partition(" ")
        name, _, suffix = release.partition("-")
        line = f"deb {uri} {SUITE}{'-' + suffix if suffix else ''} main"
        if name in known and suffix in SUITE_SUFFIXES and line not in lines:
            lines.append(line)
    return lines or [f"deb {FALLBACK_MIRROR} {SUITE} main"]


def mmdebstrap_argv(output: Path) -> list[str]:
    """Return the mmdebstrap command writing the base root filesystem to ``output``."""
    return [
        "mmdebstrap", "--variant=essential",
        # Without it apt satisfies init-system-helpers with usrmerge, and perl with it.
        "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
        f"--include={','.join(PACKAGES)}",
        *(f"--dpkgopt={option}" for option in DPKG_OPTIONS),
        SUITE, str(output), *apt_sources(),
    ]  # fmt: skip


def _key() -> str:
    """Return the cache key: a digest of the mmdebstrap command (its output path aside)."""
    argv = mmdebstrap_argv(Path("OUTPUT"))
    return hashlib.sha256(json.dumps(argv).encode()).hexdigest()[:16]


def tarball() -> Path:
    """Return the cached root filesystem tarball, running mmdebstrap when it is missing."""
    path = cache_dir() / f"base-{SUITE}-{_key()}.tar"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tar")
    os.close(fd)
    partial = Path(partial_name)
    try:
        done = subprocess.run(
            mmdebstrap_argv(partial), stdin=subprocess.DEVNULL,
            capture_output=True, text=True, check=False, timeout=1800,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"mmdebstrap failed ({done.returncode}):\n{done.stderr[-4000:]}")
        partial.replace(path)  # atomic: a concurrent run sees the whole file or none
    finally:
        partial.unlink(missing_ok=True)
    return path


def image(podman: str, env: Mapping[str, str]) -> str:
    """Return the base image's name, importing the cached tarball when it is missing."""
    name = f"{REPOSITORY}:{SUITE}-{_key()}"
    exists = subprocess.run([podman, "image", "exists", name], env=env, check=False)
    if exists.returncode == 0:
        return name
    done = subprocess.run(
        [podman, "import", str(tarball()), name],
        env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"podman import failed ({done.returncode}): {done.stderr}")
    return name
