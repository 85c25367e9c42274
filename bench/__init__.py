"""Benchmarks. ``make bench`` runs ``python -m bench``: every module here with a ``main(argv)`` in turn.

How a benchmark plugs in:

- ``main(argv: list[str] | None = None) -> int`` runs it and prints its own report; ``--toy`` (or the
  environment variable ``INTRABLOG_BENCH_TOY=1``) asks for a run of seconds rather than minutes;
- each measurement it wants in the summary table goes through ``record(Row(...))``: what was measured,
  on which backend, the raw baseline measured in the same run, the ratio and the goal. ``python -m bench``
  prints one table of every row after the last benchmark and writes it, with the machine's description,
  to ``bench/results/latest.json``;
- facts worth keeping beside the table (how long the dataset took to build, lost and duplicated counts)
  go through ``note(key, text)``.

Modules whose name starts with ``_`` are helpers, not benchmarks.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from typing import Any

TOY_ENV = "INTRABLOG_BENCH_TOY"


@dataclass(frozen=True)
class Row:
    benchmark: str
    case: str
    unit: str
    measured: float
    baseline: float
    # How the ratio is read, e.g. "<= 2x" (lower is better) or ">= 0.5x" (higher is better).
    goal: str = ""
    met: bool | None = None
    backend: str = "-"

    @property
    def ratio(self) -> float:
        return self.measured / self.baseline if self.baseline else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


_rows: list[Row] = []
_notes: dict[str, str] = {}


def record(row: Row, *, toy: bool = False) -> None:
    """Keep ``row`` for the table; at toy size (seconds-long runs on tiny data) no goal applies to it."""
    _rows.append(replace(row, goal="(toy)", met=None) if toy else row)


def recorded() -> list[Row]:
    return list(_rows)


def note(key: str, text: str) -> None:
    _notes[key] = text


def notes() -> dict[str, str]:
    return dict(_notes)


def toy_requested(flag: bool) -> bool:
    return flag or os.environ.get(TOY_ENV) == "1"


def table(rows: list[Row]) -> str:
    header = ("benchmark", "backend", "case", "measured", "baseline", "ratio", "goal", "met")
    lines = [
        (
            row.benchmark,
            row.backend,
            row.case,
            f"{row.measured:,.2f} {row.unit}",
            f"{row.baseline:,.2f} {row.unit}",
            f"{row.ratio:.2f}x",
            row.goal,
            "-" if row.met is None else ("yes" if row.met else "NO"),
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]
    rule = "  ".join("-" * width for width in widths)
    out = ["  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)), rule]
    out += ["  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) for cells in lines]
    return "\n".join(out)
