# podman-exporter container image.
#
#   podman build --format docker -t localhost/podman-exporter:0.1.0 .
#   podman build --format docker --build-arg BASE=<a Debian image with python3> ...
#
# `--format docker` keeps the HEALTHCHECK: Podman's default OCI image format
# has no field for it. Runs are documented in docs/install.md.
#
# BASE is any Debian-like image with Python 3.11 or later as `python3`, its
# `venv` module (Debian: python3-venv), CA certificates for pip (Debian:
# ca-certificates), and groupadd/useradd. The exporter goes into a venv,
# /opt/podman-exporter, on every base: Debian's system Python refuses
# `pip install` (PEP 668), and there is no `python` command on Debian.
#
# The default base is pinned by its full version tag, not by digest: a digest can
# only be taken from a registry, and one written here without being pulled and
# checked would be an unverified claim. Pin a digest in your own build
# (`podman pull` the tag, then `--build-arg BASE=...@sha256:<digest>`) if you
# need byte-for-byte reproducible base layers.
ARG BASE=docker.io/library/python:3.11.11-slim-bookworm

# ---- build: the project wheel plus wheels for all its dependencies ----------
FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter/ exporter/
RUN python3 -m venv /opt/build \
 && /opt/build/bin/python -m pip wheel --no-cache-dir --wheel-dir /wheels .

# ---- runtime: the base with a venv holding only the installed wheels ---------
FROM ${BASE}
ARG BASE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="podman-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Podman (varlink io.projectatomic.podman and the libpod REST API)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.documentation="docs/install.md in the source tree" \
      org.opencontainers.image.base.name="${BASE}"
# The PATH is spelled out: an image made with `podman import` has none to extend.
ENV PATH=/opt/podman-exporter/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HEALTHCHECK_URL=http://127.0.0.1:9882/healthz

# Install from the build stage's wheels only (--no-index): nothing else is
# fetched, and the wheels do not stay in a layer of this image. pip and
# setuptools leave the venv afterwards: nothing installs at run time.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python3 -m venv /opt/podman-exporter \
 && /opt/podman-exporter/bin/python -m pip install --no-cache-dir --no-index \
        --find-links=/wheels "podman-exporter==${VERSION}" \
 && /opt/podman-exporter/bin/python -m pip uninstall --yes pip setuptools \
 && groupadd --system --gid 10001 podman-exporter \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin podman-exporter

USER 10001:10001
EXPOSE 9882

# No curl in the image: probe /healthz with the Python standard library (`python`
# is the venv's, first on the PATH). urlopen raises (exit 1) on a refused
# connection, a timeout or a non-2xx answer. Set HEALTHCHECK_URL when the
# exporter listens elsewhere.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['HEALTHCHECK_URL'], timeout=4)"]

ENTRYPOINT ["podman-exporter"]
