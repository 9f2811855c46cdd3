"""Generator of the Grafana dashboards shipped in dashboards/ (grafana-foundation-sdk)."""
