"""The gateway benchmark runs end to end at a small size and reports what it measured."""

from __future__ import annotations

import argparse

from jiesu.bench import gateway as bench


def test_small_benchmark_run_delivers_everything() -> None:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(
        ["--screens", "4", "--supervisors", "1", "--events", "40", "--rate", "50"]
    )
    result = bench.run(args)
    assert result["screens"] == 4 and result["supervisors"] == 1
    assert result["events"] == 160
    assert result["dropped_screens"] == 0
    assert result["missing_events"] == 0
    # Every event of every call plus its end reaches its agent; the supervisor gets the board
    # (2 alerts and 1 end per call).
    assert result["delivered"] == 4 * (40 + 1) - result["partials_coalesced"] + 4 * 3
    for key in ("p50_ms", "p99_ms", "max_ms"):
        assert isinstance(result[key], float) and result[key] >= 0
    assert result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert result["target_met"] is False  # far below the target load, so never "met"
    assert result["cpu_count"] and result["python"]
