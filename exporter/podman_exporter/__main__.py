"""``python -m podman_exporter``."""

import sys

from podman_exporter.cli import main

sys.exit(main())
