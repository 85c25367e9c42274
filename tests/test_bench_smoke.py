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
    names = benchmark_names()
    assert {"live_push", "xmpp_relay", "home_timeline", "post_creation", "fanout", "announcement_im"} <= set(names)
    assert not any(name.startswith("_") for name in names)
    assert "dataset" not in names  # the data the benchmarks run on, not one of them
    rows = [
        bench.Row("b", "case one", "ms", 3_000.0, 2_000.0, "<= 2x", True, "sqlite"),
        bench.Row("b", "case two", "ms", 1.0, 0.0),
    ]
    lines = bench.table(rows).splitlines()
    assert lines[0].split() == ["benchmark", "backend", "case", "measured", "baseline", "ratio", "goal", "met"]
    assert lines[2].split()[:2] == ["b", "sqlite"]
    assert "3,000.00 ms" in lines[2]
    assert "1.50x" in lines[2]
    assert "yes" in lines[2]
    assert "infx" in lines[3]
    assert lines[3].rstrip().endswith("-")


def test_a_toy_row_keeps_its_figures_but_judges_no_goal() -> None:
    before = len(bench.recorded())
    bench.record(bench.Row("b", "toy case", "ms", 5.0, 1.0, "<= 2x", False, "postgresql"), toy=True)
    (row,) = bench.recorded()[before:]
    assert (row.measured, row.baseline, row.backend) == (5.0, 1.0, "postgresql")
    assert (row.goal, row.met) == ("(toy)", None)
