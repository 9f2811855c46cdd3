"""The exporter's own families: Podman up, collector status and admin actions of each
endpoint, and the build info of the process.

Sample of the exposition (classic text, HELP lines shortened)::

    # TYPE podman_up gauge
    podman_up 1.0
    # TYPE podman_scrape_collector_success gauge
    podman_scrape_collector_success{collector="containers"} 1.0
    # TYPE podman_scrape_collector_duration_seconds gauge
    podman_scrape_collector_duration_seconds{collector="containers"} 0.012
    # TYPE podman_exporter_last_collection_timestamp_seconds gauge
    podman_exporter_last_collection_timestamp_seconds 1.7e+09
    # TYPE podman_exporter_collection_errors_total counter
    podman_exporter_collection_errors_total{collector="containers"} 0.0
    # TYPE podman_exporter_publish_failures_total counter
    podman_exporter_publish_failures_total 0.0
    # TYPE podman_exporter_last_publish_success_timestamp_seconds gauge
    podman_exporter_last_publish_success_timestamp_seconds 1.7e+09
    # TYPE podman_exporter_build_info gauge
    podman_exporter_build_info{version="0.1.0",python_version="3.11.2"} 1.0
    # TYPE podman_exporter_admin_actions_total counter
    podman_exporter_admin_actions_total{action="prune_containers",result="ok"} 2.0
"""

from __future__ import annotations

from prometheus_client.core import Metric

from podman_exporter.metrics.family import Family, finish
from podman_exporter.metrics.options import MetricOptions
from podman_exporter.snapshot.snapshot import Snapshot


def exporter_families(snapshot: Snapshot, options: MetricOptions) -> list[Metric]:
    """Return the exporter's own families about one endpoint (they take its ``endpoint``
    label in the exposition); collectors ordered by name (first record of a name wins),
    admin actions by (action, result)."""
    up = Family(
        "gauge", "podman_up", "Whether Podman answered in the last collection (1) or not (0).", ()
    )
    up.add((), 1.0 if snapshot.up else 0.0)
    labels = ("collector",)
    success = Family(
        "gauge",
        "podman_scrape_collector_success",
        "Whether the collector succeeded in the last collection (1) or not (0).",
        labels,
    )
    duration = Family(
        "gauge",
        "podman_scrape_collector_duration_seconds",
        "How long the collector took in the last collection.",
        labels,
        "seconds",
    )
    errors = Family(
        "counter",
        "podman_exporter_collection_errors_total",
        "Failed runs of the collector since the exporter started.",
        labels,
    )
    bad = Family(
        "counter",
        "podman_exporter_bad_records_total",
        "Malformed records from Podman since the exporter started: dropped when they have no "
        "usable id, else kept without their malformed fields.",
        labels,
    )
    for status in sorted(snapshot.collectors, key=lambda s: s.name):
        success.add((status.name,), 1.0 if status.success else 0.0)
        duration.add((status.name,), status.duration_seconds)
        errors.add((status.name,), status.errors_total)
        bad.add((status.name,), status.bad_records_total)
    last_collection = Family(
        "gauge",
        "podman_exporter_last_collection_timestamp_seconds",
        "Time the last collection ended, Unix seconds.",
        (),
        "seconds",
    )
    last_collection.add((), snapshot.taken_at)
    last_success = Family(
        "gauge",
        "podman_exporter_last_success_timestamp_seconds",
        "Time of the last collection in which every enabled collector succeeded, Unix seconds.",
        (),
        "seconds",
    )
    last_success.add((), snapshot.last_success)
    publish_failures = Family(
        "counter",
        "podman_exporter_publish_failures_total",
        "Collections whose Podman series could not be rendered, since the exporter started; "
        "the last rendered series are served meanwhile, until older than --collect.max-age.",
        (),
    )
    publish_failures.add((), snapshot.publish_failures)
    last_publish = Family(
        "gauge",
        "podman_exporter_last_publish_success_timestamp_seconds",
        "End of the last collection whose Podman series were rendered without error, Unix "
        "seconds; they are served until older than --collect.max-age.",
        (),
        "seconds",
    )
    last_publish.add((), snapshot.last_publish)
    admin = Family(
        "counter",
        "podman_exporter_admin_actions_total",
        "Admin actions performed since the exporter started, by action and result.",
        ("action", "result"),
    )
    for (action, result), count in sorted(snapshot.admin_actions.items()):
        admin.add((action, result), count)
    return finish([up, success, duration, last_collection, last_success, errors, bad,
                   publish_failures, last_publish, admin])


def process_families(options: MetricOptions) -> list[Metric]:
    """Return the families of the exporter process itself (no endpoint): its build."""
    build = Family(
        "info",
        "podman_exporter_build_info",
        "Version of the exporter and of Python; the value is always 1.",
        ("version", "python_version"),
    )
    build.add((options.version, options.python_version))
    return finish([build])
