"""Silero VAD v6 (ONNX, no torch) and the WebRTC gate on synthetic signals and real speech."""

from __future__ import annotations

import wave

import numpy as np
import numpy.typing as npt
import pytest
from shared_data import MANDARIN_SPEECH

from jiesu.models.registry import ModelUnavailable
from jiesu.models.vad import SILERO_CHUNK, SileroVad, SileroVadModel, WebRtcVadGate

RATE = 16_000


@pytest.fixture(scope="module")
def silero() -> SileroVadModel:
    try:
        return SileroVadModel()
    except ModelUnavailable as exc:
        pytest.skip(f"Silero VAD model not installed: {exc}")


def speech_clips() -> list[npt.NDArray[np.float32]]:
    names = ["firered_BAC009S0764W0121.wav", "mossttsd_zh_spk2_moon.wav"]
    if not all((MANDARIN_SPEECH / n).is_file() for n in names):
        pytest.skip(f"real Mandarin speech not found in {MANDARIN_SPEECH} (set JIESU_SHARED_DATA)")
    clips = []
    for name in names:
        with wave.open(str(MANDARIN_SPEECH / name)) as w:
            data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        clips.append((data.astype(np.float32) / 32768.0).astype(np.float32))
    return clips


def synthetic() -> dict[str, npt.NDArray[np.float32]]:
    rng = np.random.default_rng(7)
    t = np.arange(RATE * 3) / RATE
    return {
        "silence": np.zeros(RATE * 3, dtype=np.float32),
        "white noise": (0.1 * rng.standard_normal(RATE * 3)).astype(np.float32),
        "440 Hz tone": (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
    }


@pytest.mark.parametrize("name", ["silence", "white noise", "440 Hz tone"])
def test_silero_probability_is_low_without_speech(silero: SileroVadModel, name: str) -> None:
    probs = SileroVad(silero).feed(synthetic()[name])
    assert len(probs) == RATE * 3 // SILERO_CHUNK
    assert float(np.max(probs)) < 0.5, f"{name}: max speech probability {np.max(probs):.2f}"
    assert float(np.mean(probs)) < 0.1


def test_silero_probability_is_high_on_real_speech(silero: SileroVadModel) -> None:
    for pcm in speech_clips():
        probs = SileroVad(silero).feed(pcm)
        assert float(np.mean(probs > 0.5)) > 0.5, "most chunks of a speech clip are speech"
        assert float(np.max(probs)) > 0.9


def test_streaming_equals_faster_whisper_offline_and_streams_do_not_share_state(
    silero: SileroVadModel,
) -> None:
    from faster_whisper.vad import SileroVADModel  # type: ignore[import-untyped]

    pcm = speech_clips()[0]
    pcm = pcm[: len(pcm) // SILERO_CHUNK * SILERO_CHUNK]
    offline = np.asarray(SileroVADModel(str(silero.path))(pcm)).reshape(-1)

    a, b = SileroVad(silero), SileroVad(silero)  # one session, two streams, interleaved
    noise = synthetic()["white noise"]
    streamed = []
    for start in range(0, len(pcm), SILERO_CHUNK):
        streamed.append(a.process(pcm[start : start + SILERO_CHUNK]))
        b.feed(noise[: SILERO_CHUNK // 2])
    np.testing.assert_allclose(streamed, offline, atol=1e-4)

    odd = SileroVad(silero)  # arbitrary feed sizes give the same chunk probabilities
    pieces = [odd.feed(pcm[i : i + 700]) for i in range(0, len(pcm), 700)]
    np.testing.assert_allclose(np.concatenate(pieces), offline, atol=1e-4)

    a.reset()
    assert a.process(pcm[:SILERO_CHUNK]) == pytest.approx(float(offline[0]), abs=1e-4)
    with pytest.raises(ValueError, match="512"):
        a.process(pcm[:400])


def test_webrtc_gate_on_real_speech_and_noise() -> None:
    gate = WebRtcVadGate(2, frame_ms=20)

    def fraction(pcm: npt.NDArray[np.float32]) -> float:
        ints = (np.clip(pcm, -1, 1) * 32767).astype(np.int16)
        n = len(ints) // gate.frame_samples
        frames = ints[: n * gate.frame_samples].reshape(n, gate.frame_samples)
        return float(np.mean([gate.is_speech(f) for f in frames]))

    assert fraction(synthetic()["silence"]) == 0.0
    for pcm in speech_clips():
        assert fraction(pcm) > 0.5
