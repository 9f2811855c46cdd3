"""The landing page: what the exporter last saw of each Podman endpoint, and where the
metrics, health checks and documentation are."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from podman_exporter import __version__
from podman_exporter.exposition.body import Exposition
from podman_exporter.snapshot.snapshot import Snapshot

DOCS = (
    ("README.md", "install, flags, architecture"),
    ("docs/metrics.md", "every metric, its labels and sources"),
    ("docs/alerts.md", "alerts, runbooks and dashboards"),
    ("docs/install.md", "installing, several Podmans, fleets"),
    ("dashboards/podman-overview.json", "Grafana: one host"),
    ("dashboards/podman-container.json", "Grafana: one container"),
)
"""Documents of the source tree of this version, and what each is for."""
_STYLE = ("body{font-family:sans-serif;margin:2em}th,td{text-align:left;padding:.2em 1em .2em 0;"
          "vertical-align:top}.bad{color:#b00}.ok{color:#070}table{border-collapse:collapse}"
          "h2{margin-top:1.5em}")


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "never"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _reason(snap: Snapshot) -> str:
    """Return why Podman did not answer: the first collector error of the collection."""
    return next((c.error for c in snap.collectors if c.error), "no collector answered")


def _endpoint(snap: Snapshot) -> str:
    """Return the section of one endpoint: its state and a row per collector."""
    state = (f'<span class="ok">reachable</span> ({_e(snap.api)})' if snap.up
             else f'<span class="bad">unreachable</span>: {_e(_reason(snap))}')
    facts = [
        ("Podman", f"{_e(snap.url)} — {state}"),
        ("Last collection", _e(_when(snap.taken_at))),
        ("Last full success", _e(_when(snap.last_success))),
        ("Containers", "unknown" if snap.containers is None else str(len(snap.containers))),
        ("Images", "unknown" if snap.images is None else str(len(snap.images))),
    ]
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    collectors = "".join(
        f"<tr><td>{_e(c.name)}</td>"
        f"<td class=\"{'ok' if c.success else 'bad'}\">{'ok' if c.success else 'failed'}</td>"
        f"<td>{c.duration_seconds * 1000:.1f} ms</td><td>{_e(c.error or '')}</td>"
        f"<td>{c.errors_total}</td></tr>"
        for c in sorted(snap.collectors, key=lambda c: c.name))
    return (f"<h2>Endpoint {_e(snap.endpoint)}</h2><table>{rows}</table>"
            "<table><tr><th>Collector</th><th>Last result</th><th>Duration</th>"
            f"<th>Error</th><th>Failures since start</th></tr>{collectors}</table>")


def landing_page(exposition: Exposition | None, telemetry_path: str) -> bytes:
    """Return the HTML landing page for the latest Exposition (None: not collected yet).

    It never links the admin endpoint: that lives on its own listener, and a link would
    only tell a visitor of the metrics port where to look."""
    if exposition is None:
        body = "<p>No collection has finished yet.</p>"
    else:
        body = "".join(_endpoint(exposition.snapshots[name])
                       for name in sorted(exposition.snapshots))
    path = _e(telemetry_path)
    docs = "".join(f"<li><code>{_e(name)}</code>: {_e(what)}</li>" for name, what in DOCS)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Podman Exporter</title>
<style>{_STYLE}</style>
</head><body>
<h1>Podman Exporter</h1>
<p>Version {_e(__version__)}. Values are collected on an interval, not at scrape time.</p>
<ul><li><a href="{path}">Metrics</a></li><li><a href="/healthz">Health</a></li>
<li><a href="/readyz">Readiness</a></li></ul>
{body}
<h2>Documentation</h2>
<p>In the source tree of podman-exporter {_e(__version__)}:</p>
<ul>{docs}</ul>
</body></html>
""".encode()
