"""The benchmarks run at toy size, so that they cannot rot between ``make bench`` runs."""

from __future__ import annotations

import math

import pytest

import bench
from bench import live_push
from bench.__main__ import benchmark_names


def test_live_push_runs_at_toy_size_and_records_its_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    before = len(bench.recorded())
    assert live_push.main(["--toy"]) == 0
    report = capsys.readouterr().out
    assert "50 connections" in report
    assert "ratio" in report
    (row,) = bench.recorded()[before:]
    assert row.benchmark == "live_push"
    assert row.case == "push one post to 50 SSE streams"
    assert row.measured > 0
    assert row.baseline > 0
    assert math.isfinite(row.ratio)


def test_the_runner_finds_every_benchmark_and_prints_one_table() -> None:
    assert "live_push" in benchmark_names()
    assert not any(name.startswith("_") for name in benchmark_names())
    rows = [bench.Row("b", "case one", "ms", 3.0, 2.0, "<= 2x", True), bench.Row("b", "case two", "ms", 1.0, 0.0)]
    lines = bench.table(rows).splitlines()
    assert lines[0].split() == ["benchmark", "case", "measured", "baseline", "ratio", "goal", "met"]
    assert "1.50x" in lines[2]
    assert "yes" in lines[2]
    assert "infx" in lines[3]
    assert lines[3].rstrip().endswith("-")
