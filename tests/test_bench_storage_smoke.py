"""The dataset benchmarks at toy size (both backends), so that they cannot rot between ``make bench`` runs.

Only that each runs and records well-formed rows: the figures of a seconds-long run on tiny data mean nothing,
and performance is never asserted in tests (the full-size ``make bench`` measures it).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

import bench
from bench import announcement_im, dataset, fanout, home_timeline, post_creation
from bench.__main__ import benchmark_names

BENCHMARKS: dict[str, tuple[Callable[[list[str] | None], int], list[str]]] = {
    "home_timeline": (
        home_timeline.main,
        [
            "home page req/s, 50 connections",
            "home page p99, 50 connections",
            "home page query, intrablog vs raw driver",
        ],
    ),
    "post_creation": (post_creation.main, ["posts created per second, one at a time"]),
    "fanout": (
        fanout.main,
        [
            f"IM expansion of one post to {dataset.TOY.users - 1:,} followers vs raw batch insert",
            "followers' home page shows it (fan-out on read) vs raw driver",
        ],
    ),
    "announcement_im": (
        announcement_im.main,
        [f"announcement to {dataset.TOY.users - 1:,} IM users (lost 0, dup 0)"],
    ),
}


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_each_dataset_benchmark_runs_at_toy_size_on_both_backends(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run, cases = BENCHMARKS[name]
    before = len(bench.recorded())
    assert run(["--toy"]) == 0
    assert "sqlite" in capsys.readouterr().out
    rows = bench.recorded()[before:]
    # Each case once per backend, SQLite first; at toy size no goal is judged.
    assert [(row.backend, row.case) for row in rows] == [
        (backend, case) for backend in ("sqlite", "postgresql") for case in cases
    ]
    for row in rows:
        assert row.benchmark == name
        assert row.unit
        assert row.measured > 0
        assert row.baseline > 0
        assert math.isfinite(row.ratio)
        assert (row.goal, row.met) == ("(toy)", None)
    assert name in benchmark_names()
