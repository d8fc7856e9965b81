"""Prosody: YIN pitch on known tones, pauses, level, and deltas against the caller's baseline."""

from __future__ import annotations

import math
import wave

import numpy as np
import numpy.typing as npt
import pytest
from shared_data import MANDARIN_SPEECH

from jiesu.engine.alerts.prosody import (
    ProsodyBaseline,
    arousal,
    delta,
    measure,
)

RATE = 16_000


def tone(f0: float, seconds: float, amplitude: float = 0.2) -> npt.NDArray[np.int16]:
    t = np.arange(int(RATE * seconds)) / RATE
    wave_ = np.sin(2 * np.pi * f0 * t) + 0.4 * np.sin(2 * np.pi * 2 * f0 * t + 0.3)
    return (amplitude * 32767 * wave_ / 1.4).astype(np.int16)


@pytest.mark.parametrize("f0", [85.0, 140.0, 220.0, 330.0])
def test_yin_finds_the_fundamental(f0: float) -> None:
    p = measure(tone(f0, 1.0))
    assert p.f0_median_hz == pytest.approx(f0, rel=0.02)
    assert p.voiced_ratio > 0.9


def test_pauses_and_silence() -> None:
    gap = np.zeros(int(RATE * 0.4), np.int16)
    p = measure(np.concatenate([tone(150, 0.8), gap, tone(150, 0.8), gap, tone(150, 0.5)]))
    assert p.n_pauses == 2
    assert 0.25 < p.pause_ratio < 0.45
    silent = measure(np.zeros(RATE, np.int16))
    assert silent.voiced_ratio == 0.0 and math.isnan(silent.f0_median_hz)


def test_speaking_rate_uses_text_and_speech_time() -> None:
    p = measure(tone(150, 2.0), text="我想投诉一下小区物业", speech_ms=2000)
    assert p.chars_per_s == pytest.approx(10 / 2.0, rel=0.05)


def test_level_tracks_amplitude() -> None:
    quiet, loud = measure(tone(150, 1.0, 0.05)), measure(tone(150, 1.0, 0.4))
    assert loud.level_db - quiet.level_db == pytest.approx(20 * math.log10(8), abs=0.5)


def test_arousal_against_the_callers_own_baseline() -> None:
    base = ProsodyBaseline(baseline_s=3.0)
    for _ in range(3):
        base = base.update(measure(tone(120, 1.2, 0.1), text="您好我想咨询一下", speech_ms=1200))
    assert base.ready
    calm = delta(measure(tone(120, 1.2, 0.1), text="您好我想咨询一下", speech_ms=1200), base)
    assert abs(calm.pitch_st) < 0.5 and abs(calm.level_db) < 1.0
    assert arousal(calm) == pytest.approx(0.5, abs=0.05)
    angry = delta(
        measure(tone(170, 1.2, 0.3), text="你们到底管不管这个事情啊", speech_ms=1200), base
    )
    assert angry.pitch_st == pytest.approx(12 * math.log2(170 / 120), abs=0.3)
    assert angry.level_db > 8
    assert arousal(angry) > 0.9
    assert "音高" in angry.describe() and "音量" in angry.describe()
    low = delta(measure(tone(100, 1.2, 0.04), text="我也不知道怎么办", speech_ms=2000), base)
    assert arousal(low) < 0.2


def test_baseline_freezes_after_its_window() -> None:
    base = ProsodyBaseline(baseline_s=2.0)
    for _ in range(3):
        base = base.update(measure(tone(120, 1.0)))
    frozen = base.update(measure(tone(300, 1.0)))
    assert frozen == base


def test_real_speech_is_in_the_human_range() -> None:
    clip = MANDARIN_SPEECH / "firered_BAC009S0764W0121.wav"
    if not clip.exists():
        pytest.skip(f"needs the shared data folder: {clip} is missing")
    with wave.open(str(clip)) as w:
        assert w.getframerate() == RATE
        pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    p = measure(pcm)
    assert 70 < p.f0_median_hz < 400
    assert 0.2 < p.voiced_ratio < 0.95
    assert p.f0_range_st > 1.0  # real intonation moves, unlike a tone
