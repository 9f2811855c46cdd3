"""Write the dashboards JSON from dashboards/dashgen, or check the committed files are current.

Usage: ``python dashboards/generate.py`` (write) or ``python dashboards/generate.py --check``
(exit 1 when a committed file differs from what the generator produces).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from dashgen import container, overview  # noqa: E402
from grafana_foundation_sdk.cog.encoder import JSONEncoder  # noqa: E402
from grafana_foundation_sdk.models import dashboard as dm  # noqa: E402

DASHBOARDS: dict[str, Callable[[], dm.Dashboard]] = {
    "podman-overview.json": overview.build,
    "podman-container.json": container.build,
}


def render(board: dm.Dashboard) -> str:
    """Return the dashboard as stable, indented JSON text ending in a newline."""
    return json.dumps(board, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def rendered() -> dict[str, str]:
    """Return the JSON text of every dashboard by file name."""
    return {name: render(build()) for name, build in DASHBOARDS.items()}


def main(argv: list[str] | None = None) -> int:
    """Write or check the dashboard files; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for name, text in rendered().items():
        path = HERE / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("out of date, run python dashboards/generate.py:", *stale, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
