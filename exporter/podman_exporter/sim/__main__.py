"""``python -m podman_exporter.sim``: the simulator's command line."""

import sys

from podman_exporter.sim.cli import main

sys.exit(main())
