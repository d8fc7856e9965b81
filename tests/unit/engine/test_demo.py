"""The demo's call: the real two-party recording when present, a synthetic stand-in otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_data import SHARED_DATA

from jiesu.engine.audio import Leg
from jiesu.engine.demo import load_demo_call

TWO_PARTY = SHARED_DATA / "calls" / "en_two_party"


def test_recorded_call_gives_two_separate_legs() -> None:
    if not any(TWO_PARTY.glob("*_caller.wav")):
        pytest.skip(f"needs the shared two-party call recording in {TWO_PARTY}")
    legs, rate = load_demo_call(TWO_PARTY)
    assert rate == 8000
    assert set(legs) == {Leg.CALLER, Leg.AGENT}
    assert len(legs[Leg.CALLER]) / rate > 200  # the ~245 s real call, not the stand-in
    assert not (legs[Leg.CALLER] == legs[Leg.AGENT]).all()


def test_missing_recording_falls_back_to_a_synthetic_call(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    legs, rate = load_demo_call(tmp_path / "absent")
    assert set(legs) == {Leg.CALLER, Leg.AGENT}
    assert len(legs[Leg.CALLER]) == len(legs[Leg.AGENT]) > 0
    assert legs[Leg.CALLER].any() and rate == 8000
    assert "synthetic" in caplog.text
