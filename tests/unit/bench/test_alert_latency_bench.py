"""`jiesu bench alert-latency` on a tiny run: both alert kinds measured, from their triggers."""

from __future__ import annotations

import argparse

from jiesu.bench import alert_latency


def test_small_run_measures_risk_and_emotion_alerts() -> None:
    parser = argparse.ArgumentParser()
    alert_latency.add_arguments(parser)
    args = parser.parse_args(["--calls", "2", "--utterances", "6", "--gap-ms", "50"])
    result = alert_latency.run(args)
    # Each call says two risk lines and two angry ones (a third each of 6, shuffled).
    assert result["risk"]["n"] >= 2 and result["emotion"]["n"] >= 1, result
    for kind in ("risk", "emotion"):
        assert 0 < result[kind]["p50_ms"] <= result[kind]["p95_ms"] <= result[kind]["max_ms"]
    assert result["p95_ms"] == max(result["risk"]["p95_ms"], result["emotion"]["p95_ms"])
    assert result["queue_overflows"] == 0
