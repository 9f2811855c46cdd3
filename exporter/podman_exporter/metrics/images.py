"""Image families: one series per image and repository:tag.

Sample of the exposition (classic text, HELP lines shortened)::

    # TYPE podman_image_info gauge
    podman_image_info{id="a8758716bb6a",parent_id="",repository="docker.io/library/nginx",tag="1.25",digest="sha256:4c0f..."} 1.0
    podman_image_info{id="f1b2c3d4e5f6",parent_id="a8758716bb6a",repository="<none>",tag="<none>",digest=""} 1.0
    # TYPE podman_image_size gauge
    podman_image_size{id="a8758716bb6a",repository="docker.io/library/nginx",tag="1.25"} 1.87e+08
    # TYPE podman_image_created_seconds gauge
    podman_image_created_seconds{id="a8758716bb6a",repository="docker.io/library/nginx",tag="1.25"} 1.69e+09
    # TYPE podman_image_containers gauge
    podman_image_containers{id="a8758716bb6a",repository="docker.io/library/nginx",tag="1.25"} 2.0
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client.core import Metric

from podman_exporter.metrics.family import Family, finish
from podman_exporter.metrics.labels import clean, short_id
from podman_exporter.snapshot.model import Image

NONE = "<none>"
SERIES_LABELS = ("id", "repository", "tag")


def split_repo_tag(text: str) -> tuple[str, str]:
    """Return (repository, tag) of ``repo:tag`` (any ``@digest`` dropped), split at the
    last ``:`` after the last ``/``; the tag is ``<none>`` when there is no such ``:``."""
    text = text.split("@", 1)[0]
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        return text[:colon], text[colon + 1 :]
    return text, NONE


def image_families(images: Sequence[Image]) -> list[Metric]:
    """Return the image families, series ordered by image id then repository:tag.

    Untagged images get ``<none>`` as repository and tag.
    """
    info = Family(
        "info",
        "podman_image_info",
        "Image in local storage, one series per repository:tag; the value is always 1.",
        ("id", "parent_id", "repository", "tag", "digest"),
    )
    size = Family("gauge", "podman_image_size", "Image size in bytes.", SERIES_LABELS)
    created = Family(
        "gauge",
        "podman_image_created_seconds",
        "Image creation time, Unix seconds.",
        SERIES_LABELS,
        "seconds",
    )
    containers = Family(
        "gauge",
        "podman_image_containers",
        "Number of containers using the image.",
        SERIES_LABELS,
    )
    seen: set[tuple[str, ...]] = set()
    for image in sorted(images, key=lambda i: i.id):
        image_id = short_id(image.id)
        names = sorted({split_repo_tag(t) for t in image.repo_tags}) or [(NONE, NONE)]
        for repository, tag in names:
            labels = (image_id, repository, tag)
            key = tuple(clean(v) for v in labels)
            if key in seen:  # same 12-char id and repository:tag as an earlier image
                continue
            seen.add(key)
            info.add(
                (
                    image_id,
                    short_id(image.parent_id),
                    repository,
                    tag,
                    image.digest,
                )
            )
            size.add(labels, image.size_bytes)
            created.add(labels, image.created)
            containers.add(labels, image.containers)
    return finish([info, size, created, containers])
