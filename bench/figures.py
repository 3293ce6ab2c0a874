"""Figures: samples, their percentiles, the target they are held against, and the report."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): a value that was actually observed."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


class Results(list):
    """A scenario's figures, plus what its plot needs (`extras`, e.g. the lag of every revoke)."""

    def __init__(self) -> None:
        super().__init__()
        self.extras: dict = {}


@dataclass
class Figure:
    name: str
    target: str
    unit: str  # "ms", "s", "MB", "calls"
    samples: list[float] = field(default_factory=list)
    passed: bool | None = None  # None: no target to hold it against
    note: str = ""
    single: bool = False  # one measured value (RSS, a count): shown as p50 with no p99

    @property
    def p50(self) -> float:
        return percentile(self.samples, 50)

    @property
    def p99(self) -> float:
        return percentile(self.samples, 99)

    def row(self) -> list[str]:
        fmt = _format(self.unit)
        p99 = "—" if self.single else fmt(self.p99)
        verdict = {True: "pass", False: "**FAIL**", None: "—"}[self.passed]
        return [self.name, self.target, fmt(self.p50), p99, str(len(self.samples)), verdict]


def _format(unit: str):
    def fmt(value: float) -> str:
        if math.isnan(value):
            return "—"
        if unit == "calls":
            return f"{value:,.0f}"
        if unit == "ms":
            return f"{value:.1f} ms" if value < 100 else f"{value:,.0f} ms"
        return f"{value:,.1f} {unit}"
    return fmt


def markdown_table(figures: list[Figure]) -> str:
    header = ["figure", "target", "p50", "p99", "n", "result"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(f.row()) + " |" for f in figures]
    return "\n".join(lines)
