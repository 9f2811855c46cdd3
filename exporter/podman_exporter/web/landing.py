"""The landing page: what the exporter last saw, and where the metrics are."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from podman_exporter import __version__
from podman_exporter.exposition.render import Exposition


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "never"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def landing_page(exposition: Exposition | None, telemetry_path: str) -> bytes:
    """Return the HTML landing page for the latest Exposition (None: not collected yet).

    It never links the admin endpoint: that lives on its own listener, and a link would
    only tell a visitor of the metrics port where to look."""
    rows: list[tuple[str, str]] = []
    if exposition is None:
        rows.append(("Last collection", "none yet"))
    else:
        snap = exposition.snapshot
        failed = [c.name for c in snap.collectors if not c.success]
        rows += [
            ("Last collection", _when(snap.taken_at)),
            ("Result", "ok" if not failed else "failed: " + ", ".join(failed)),
            ("Podman", f"reachable ({snap.api})" if snap.up else "unreachable"),
            ("Last full success", _when(snap.last_success)),
            ("Containers", "unknown" if snap.containers is None else str(len(snap.containers))),
            ("Images", "unknown" if snap.images is None else str(len(snap.images))),
        ]
    table = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
    )
    path = html.escape(telemetry_path, quote=True)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Podman Exporter</title>
<style>body{{font-family:sans-serif;margin:2em}}th{{text-align:left;padding-right:1em}}</style>
</head><body>
<h1>Podman Exporter</h1>
<p>Version {html.escape(__version__)}. Values are collected on an interval, not at scrape time.</p>
<table>
{table}
</table>
<ul><li><a href="{path}">Metrics</a></li><li><a href="/healthz">Health</a></li>
<li><a href="/readyz">Readiness</a></li></ul>
</body></html>
""".encode()
