"""Derive Podman 5.8 and 6.0-dev REST reply shapes from the Podman 4.3.1 recording.

Usage: ``.venv/bin/python tests/replies/derive.py`` (no Podman needed; re-run after
re-recording podman-4.3). Writes ``podman-5.8/rest/*.json`` and
``podman-6.0-dev/rest/*.json`` next to this file; ``--check`` only compares and exits 1
when a file would change.

No Podman 5.8 or 6.0 ran: each derived reply is the 4.3.1 reply with exactly the
changes listed in README.md ("Derived replies"), each taken from the containers/podman
source at the tag named there. Values the changes need come from the same recording:
network counters and image architectures from truth.json, the uptime from the 4.3.1
uptime text checked against truth.json's /proc/uptime window.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "podman-4.3"

Doc = dict[str, Any]


class Target:
    """One derived Podman version: its version string and what it dropped."""

    def __init__(self, directory: str, version: str, *, per_cpu: bool, slirp: bool,
                 config_file: bool) -> None:
        self.directory = directory
        self.version = version
        self.per_cpu = per_cpu
        """Stats entries keep ``PerCPU`` (dropped on main after 5.8)."""
        self.slirp = slirp
        """``info.host.slirp4netns`` is still sent (dropped on main)."""
        self.config_file = config_file
        """``info.store.configFile`` is still sent (dropped on main)."""


TARGETS = {
    "5.8": Target("podman-5.8", "5.8.2", per_cpu=True, slirp=True, config_file=True),
    "6.0-dev": Target("podman-6.0-dev", "6.0.0-dev", per_cpu=False, slirp=False,
                      config_file=False),
}
COMPAT_API = "1.44"
"""``Api-Version`` header and the Docker API version of /version (5.8 and main)."""
BUILD_ORIGIN = "derived from a Podman 4.3.1 recording (tests/replies/derive.py)"
FREE_LOCKS = 2048 - 13
"""Placeholder: containers.conf's default num_locks minus the zoo's 11 containers, 1 pod
and 1 volume (4.3.1 does not report free locks; the exporter does not read them)."""
VOLUME_LOCK = 0
"""Placeholder lock number of the volume (not in the 4.3.1 reply; not read by the exporter)."""
_UPTIME_43 = re.compile(r"^(\d+)h (\d+)m (\d+)\.\d\ds")


def insert_after(doc: Doc, after: str | None, key: str, value: Any) -> Doc:
    """Return ``doc`` with ``key`` placed right after ``after`` (first when None), as Go's
    encoder orders struct fields."""
    out: Doc = {key: value} if after is None else {}
    for k, v in doc.items():
        if k != key:
            out[k] = v
        if k == after:
            out[key] = value
    if key not in out:
        raise KeyError(f"no {after!r} to put {key!r} after")
    return out


def without(doc: Doc, *keys: str) -> Doc:
    """Return ``doc`` without ``keys`` (each must be there)."""
    missing = [k for k in keys if k not in doc]
    if missing:
        raise KeyError(f"expected {missing} in the 4.3.1 reply")
    return {k: v for k, v in doc.items() if k not in keys}


# -- values taken from truth.json -----------------------------------------------------


def network_map(truth: Doc, container_id: str) -> dict[str, Any] | None:
    """Return the ``Network`` map of a stats entry: every interface but lo of the
    container's net namespace, as the host counted it during the stats request; None
    (JSON null, as Podman 5 sends for a container it does not measure) when it has none."""
    entry = next(c for c in truth["containers"] if c["id"] == container_id)
    window = entry.get("at_rest_stats")
    if window is None:
        return None
    if window["before"]["net"] != window["after"]["net"]:
        raise SystemExit(f"derive.py: {entry['name']}'s counters moved during the stats "
                         "request: re-record (./scripts/record-replies)")
    return {
        name: {"RxBytes": c["rx_bytes"], "RxDropped": c["rx_dropped"],
               "RxErrors": c["rx_errors"], "RxPackets": c["rx_packets"],
               "TxBytes": c["tx_bytes"], "TxDropped": c["tx_dropped"],
               "TxErrors": c["tx_errors"], "TxPackets": c["tx_packets"]}
        for name, c in sorted(window["after"]["net"].items()) if name != "lo"
    }


def whole_uptime(text: str, truth: Doc) -> int:
    """Return the whole seconds of uptime Podman 4.3.1 read, from its rounded-minutes text
    and truth's /proc/uptime window around the request (the window picks the candidate)."""
    match = _UPTIME_43.match(text)
    if not match:
        raise SystemExit(f"derive.py: unexpected 4.3.1 uptime text {text!r}")
    hours, minutes, secs = (int(g) for g in match.groups())
    window = truth["windows"]["rest_info"]
    low, high = math.floor(window["uptime_before"]), math.floor(window["uptime_after"])
    shown = hours * 3600 + minutes * 60 + secs
    fits = [s for s in (shown, shown - 60) if low <= s <= high]
    if len(fits) != 1:
        raise SystemExit(f"derive.py: uptime text {text!r} fits the /proc/uptime window "
                         f"[{low}, {high}] {len(fits)} times")
    return fits[0]


def uptime_text(seconds: int) -> str:
    """Return ``host.uptime`` as Podman 5.4 and later write it (exact minutes)."""
    hours = seconds // 3600
    text = f"{hours}h {seconds // 60 % 60}m {seconds % 60:.2f}s"
    if hours > 0:
        text += f" (Approximately {hours / 24:.2f} days)"
    return text


# -- one function per reply -------------------------------------------------------------


def stats(body: Doc, t: Target, truth: Doc) -> Doc:
    """``NetInput``/``NetOutput`` -> ``Network`` (5.0); ``PerCPU`` dropped (main)."""
    entries = []
    for recorded in body["Stats"] or []:
        net = network_map(truth, recorded["ContainerID"])
        e = without(insert_after(recorded, "NetOutput", "Network", net), "NetInput", "NetOutput")
        entries.append(e if t.per_cpu else without(e, "PerCPU"))
    return {**body, "Stats": entries if body["Stats"] is not None else None}


def container(entry: Doc, t: Target, truth: Doc) -> Doc:
    """``CIDFile`` (4.7), ``ExposedPorts`` (5.1), ``Restarts`` (4.6)."""
    entry = insert_after(entry, "CreatedAt", "CIDFile", "")
    entry = insert_after(entry, "ExitCode", "ExposedPorts", None)
    return insert_after(entry, "Ports", "Restarts", 0)


def image(entry: Doc, t: Target, truth: Doc) -> Doc:
    """``Arch``, ``Os``, ``IsManifestList`` (5.1, libpod endpoint), extensions reordered."""
    facts = next(i for i in truth["images"] if i["id"] == entry["Id"])
    out = without(entry, "Names", "Digest", "History")
    out["Arch"] = facts["arch"]
    out["Digest"] = entry["Digest"]
    out["History"] = entry["History"]
    out["IsManifestList"] = False
    out["Names"] = entry["Names"]
    out["Os"] = facts["os"]
    return out


def info(body: Doc, t: Target, truth: Doc) -> Doc:
    """Host, store and version sections as 5.8 / main send them."""
    host = body["host"]
    host = insert_after(host, "cpuUtilization", "databaseBackend", "sqlite")
    host = insert_after(host, "eventLogger", "freeLocks", FREE_LOCKS)
    host = {**host, "networkBackend": "netavark"}
    host = insert_after(host, "networkBackend", "networkBackendInfo",
                        {"backend": "netavark", "dns": {}})
    host = insert_after(host, "remoteSocket", "rootlessNetworkCmd", "pasta")
    host = insert_after(host, "slirp4netns", "pasta",
                        {"executable": "", "package": "", "version": ""})
    if not t.slirp:
        host = without(host, "slirp4netns")
    host = {**host, "uptime": uptime_text(whole_uptime(host["uptime"], truth))}
    host = insert_after(host, "uptime", "variant", "")
    store = {**body["store"], "transientStore": False}
    if not t.config_file:
        store = without(store, "configFile")
    version = {**body["version"], "APIVersion": t.version, "Version": t.version}
    version = insert_after(version, "Built", "BuildOrigin", BUILD_ORIGIN)
    return {**body, "host": host, "store": store, "version": version}


def version(body: Doc, t: Target, truth: Doc) -> Doc:
    """Version strings of ``/version`` (shape unchanged)."""
    engine = body["Components"][0]
    if engine["Name"] != "Podman Engine":
        raise SystemExit("derive.py: /version's first component is not the Podman Engine")
    engine = {**engine, "Version": t.version,
              "Details": {**engine["Details"], "APIVersion": t.version}}
    return {**body, "Components": [engine, *body["Components"][1:]], "Version": t.version,
            "ApiVersion": COMPAT_API}


def pod(entry: Doc, t: Target, truth: Doc) -> Doc:
    """``Containers[].RestartCount`` (5.0)."""
    return {**entry, "Containers": [{**c, "RestartCount": 0} for c in entry["Containers"]]}


def volume(entry: Doc, t: Target, truth: Doc) -> Doc:
    """``LockNumber`` (5.0)."""
    return {**entry, "LockNumber": VOLUME_LOCK}


def network(entry: Doc, t: Target, truth: Doc) -> Doc:
    """``network_interface``: netavark's bridge names (``podmanN``) for CNI's
    ``cni-podmanN`` (CNI was removed in 5.0)."""
    name = re.sub(r"^cni-podman(\d+)$", r"podman\1", entry["network_interface"])
    return {**entry, "network_interface": name}


Change = Callable[[Doc, Target, Doc], Doc]
BODY: dict[str, Change] = {"stats": stats, "stats-all": stats, "info": info, "version": version}
"""Replies changed as a whole, by file stem."""
EACH: dict[str, Change] = {"containers": container, "containers-size": container,
                           "images": image, "pods": pod, "volumes": volume,
                           "networks": network}
"""List replies changed entry by entry, by file stem."""


def headers(recorded: dict[str, str], t: Target, body: Any) -> dict[str, str]:
    """Return the reply headers naming ``t``'s version (Content-Length of the new body,
    as Go's encoder writes it)."""
    out = {**recorded, "Api-Version": COMPAT_API, "Libpod-Api-Version": t.version,
           "Server": f"Libpod/{t.version} (linux)"}
    if "Content-Length" in out:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            text = text.replace(char, escaped)
        out["Content-Length"] = str(len(text.encode()) + 1)
    return out


def derive(key: str) -> dict[str, str]:
    """Return file name -> text of every derived reply of TARGETS[key]."""
    t = TARGETS[key]
    truth = json.loads((SOURCE / "truth.json").read_text())
    files = {}
    for path in sorted((SOURCE / "rest").glob("*.json")):
        doc = json.loads(path.read_text())
        stem, body = path.stem, doc["body"]
        if stem in BODY:
            body = BODY[stem](body, t, truth)
        elif stem in EACH:
            body = [EACH[stem](e, t, truth) for e in body]
        else:
            raise SystemExit(f"derive.py: no derivation for rest/{path.name}")
        doc = {**doc, "headers": headers(doc["headers"], t, body), "body": body}
        files[path.name] = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    return files


def main() -> int:
    """Write (or with --check, compare) the derived replies; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args()
    stale = []
    for key, target in TARGETS.items():
        rest = HERE / target.directory / "rest"
        for name, text in derive(key).items():
            path = rest / name
            if path.exists() and path.read_text() == text:
                continue
            stale.append(str(path.relative_to(HERE)))
            if not args.check:
                rest.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    verb = "stale" if args.check else "written"
    print(f"{len(stale)} file(s) {verb}" + "".join(f"\n  {s}" for s in stale))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
