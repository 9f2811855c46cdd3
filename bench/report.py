"""Figures with their targets: PASS/MISS lines on stdout and a markdown table."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Check:
    """One measured figure, the target it is held to and whether it met it."""

    name: str
    value: str
    target: str
    ok: bool | None = None
    """None: reported only, no target."""

    def line(self) -> str:
        """Return the console line of this figure."""
        verdict = "" if self.ok is None else ("PASS" if self.ok else "MISS")
        return f"{self.name:58} {self.value:>24}  {self.target:22} {verdict}"


@dataclass
class Report:
    """Every Check of one run, in order."""

    checks: list[Check] = field(default_factory=list)

    def add(self, check: Check) -> None:
        """Record a Check and print it now."""
        self.checks.append(check)
        print(check.line(), flush=True)

    def misses(self) -> list[Check]:
        """Return the Checks that missed their target."""
        return [c for c in self.checks if c.ok is False]

    def summary(self, started: float, markdown: bool) -> int:
        """Print every figure again (and as markdown if asked) after a run begun at
        ``started`` (``time.monotonic``); return the exit code: 1 when a target was
        missed, else 0."""
        print(f"\n== summary ({time.monotonic() - started:.0f} s)")
        for check in self.checks:
            print(check.line())
        if markdown:
            print("\n" + self.markdown())
        misses = self.misses()
        print(f"\n{len(misses)} target(s) missed" if misses else "\nall targets met")
        return 1 if misses else 0

    def markdown(self) -> str:
        """Return the figures as a markdown table."""
        rows = ["| figure | measured | target | result |", "|---|---:|---|---|"]
        for c in self.checks:
            verdict = "" if c.ok is None else ("PASS" if c.ok else "**MISS**")
            rows.append(f"| {c.name} | {c.value} | {c.target} | {verdict} |")
        return "\n".join(rows)
