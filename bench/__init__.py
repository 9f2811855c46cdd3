"""Benchmarks of podman-exporter: ``python -m bench`` prints every figure of
docs/performance.md, each as a ratio against a reference measured in the same run."""
