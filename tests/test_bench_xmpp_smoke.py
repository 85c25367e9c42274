"""The XMPP relay benchmark at toy size, so that it cannot rot between ``make bench`` runs."""

from __future__ import annotations

import math

import pytest

import bench
from bench import xmpp_relay
from bench.__main__ import benchmark_names
from intrablog.config import XmppConfig


def test_xmpp_relay_runs_at_toy_size_and_records_throughput_and_latency(capsys: pytest.CaptureFixture[str]) -> None:
    before = len(bench.recorded())
    assert xmpp_relay.main(["--toy"]) == 0
    report = capsys.readouterr().out
    assert "raw component sends" in report
    assert "relay ratio" in report
    assert "bridge p50" in report
    rows = bench.recorded()[before:]
    batch = XmppConfig().batch_size
    assert [row.case for row in rows] == [f"msg/s to 2 followers, batch {batch}", "post -> IM latency p50"]
    for row in rows:
        assert row.benchmark == "xmpp_relay"
        assert row.measured > 0
        assert row.baseline > 0
        assert math.isfinite(row.ratio)


def test_the_runner_knows_the_xmpp_relay_benchmark() -> None:
    assert "xmpp_relay" in benchmark_names()
