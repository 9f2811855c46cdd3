"""podman-exporter: a Prometheus exporter for Podman."""

__version__ = "0.1.0"
