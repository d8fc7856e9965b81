"""Opus (optional): round trip through libopus, frame rules, and the missing-library error."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

from jiesu.codecs.errors import CodecError, CodecUnavailable
from jiesu.codecs.opus import OpusDecoder, OpusEncoder, load_opuslib


def _opus_missing() -> str | None:
    try:
        load_opuslib()
    except CodecUnavailable as exc:
        return str(exc)
    return None


MISSING = _opus_missing()
needs_opus = pytest.mark.skipif(
    MISSING is not None,
    reason=f"needs libopus and opuslib: {MISSING}",
)


def tone(rate: int, hz: float, seconds: float, level: float = 8000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def peak_hz(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    return float(np.argmax(spectrum) * rate / len(pcm))


@needs_opus
@pytest.mark.parametrize("rate", [48000, 16000, 8000])
def test_roundtrip_keeps_pitch_and_length(rate: int) -> None:
    frame = rate // 50
    pcm = tone(rate, 440.0, 1.0)
    encoder, decoder = OpusEncoder(rate), OpusDecoder(rate)
    packets = [encoder.encode(pcm[i : i + frame]) for i in range(0, len(pcm), frame)]
    assert all(0 < len(p) < frame * 2 for p in packets)  # compressed, never empty
    decoded = np.concatenate([decoder.decode(p) for p in packets])
    assert decoded.dtype == np.int16 and len(decoded) == len(pcm)
    steady = decoded[rate // 4 :]
    assert abs(peak_hz(steady, rate) - 440.0) < 5.0
    # Level preserved within a few dB (a lossy codec, but not a muted or clipped one).
    level = np.sqrt(np.mean(steady.astype(np.float64) ** 2))
    assert 0.5 * 8000 / np.sqrt(2) < level < 1.5 * 8000 / np.sqrt(2)


@needs_opus
def test_decoder_can_output_16k_from_a_48k_stream() -> None:
    pcm = tone(48000, 1000.0, 0.5)
    encoder = OpusEncoder(48000)
    packets = [encoder.encode(pcm[i : i + 960]) for i in range(0, len(pcm), 960)]
    decoder = OpusDecoder(16000)
    decoded = np.concatenate([decoder.decode(p) for p in packets])
    assert len(decoded) == len(pcm) // 3
    assert abs(peak_hz(decoded[4000:], 16000) - 1000.0) < 5.0


@needs_opus
def test_conceal_returns_requested_samples() -> None:
    encoder, decoder = OpusEncoder(48000), OpusDecoder(48000)
    decoder.decode(encoder.encode(tone(48000, 300.0, 0.02)))
    assert len(decoder.conceal(960)) == 960
    with pytest.raises(CodecError, match=r"2\.5 ms"):
        decoder.conceal(100)


@needs_opus
def test_bitrate_setting_changes_packet_size() -> None:
    pcm = tone(48000, 440.0, 0.5) + tone(48000, 3000.0, 0.5, 3000.0)
    sizes = []
    for bitrate in (12000, 64000):
        encoder = OpusEncoder(48000, bitrate=bitrate)
        sizes.append(sum(len(encoder.encode(pcm[i : i + 960])) for i in range(0, len(pcm), 960)))
    assert sizes[0] < sizes[1]


@needs_opus
def test_bad_frames_and_packets_raise_codec_error() -> None:
    encoder = OpusEncoder(48000)
    with pytest.raises(CodecError, match="frame"):
        encoder.encode(np.zeros(1000, np.int16))
    with pytest.raises(CodecError, match="int16"):
        encoder.encode(np.zeros(960, np.float32))  # type: ignore[arg-type]
    decoder = OpusDecoder(48000)
    with pytest.raises(CodecError, match="empty"):
        decoder.decode(b"")
    with pytest.raises(CodecError, match="could not be decoded"):
        decoder.decode(b"\xff\xff\xff")


@needs_opus
def test_stereo_is_interleaved() -> None:
    left, right = tone(48000, 440.0, 0.2), tone(48000, 440.0, 0.2, 2000.0)
    stereo = np.stack([left, right], axis=1).reshape(-1)
    encoder, decoder = OpusEncoder(48000, channels=2, application="audio"), OpusDecoder(48000, 2)
    decoded = np.concatenate(
        [decoder.decode(encoder.encode(stereo[i : i + 1920])) for i in range(0, len(stereo), 1920)]
    )
    assert len(decoded) == len(stereo)
    channels = decoded.reshape(-1, 2)[4800:].astype(np.float64)
    assert np.sqrt(np.mean(channels[:, 0] ** 2)) > 2 * np.sqrt(np.mean(channels[:, 1] ** 2))


def test_bad_format_is_refused_before_loading_the_library() -> None:
    with pytest.raises(CodecError, match="rate"):
        OpusDecoder(44100)
    with pytest.raises(CodecError, match="channels"):
        OpusEncoder(48000, channels=3)


def test_missing_opuslib_raises_codec_unavailable_naming_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(name: str) -> Any:
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(CodecUnavailable, match=r"libopus0.*pip install"):
        OpusDecoder(48000)
    with pytest.raises(CodecUnavailable, match="opuslib is not installed"):
        OpusEncoder(48000)


def test_missing_libopus_raises_codec_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    # opuslib raises a bare Exception at import when ctypes finds no libopus.
    def broken(name: str) -> Any:
        raise Exception("Could not find Opus library. Make sure it is installed.")

    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.raises(CodecUnavailable, match="libopus could not be loaded"):
        OpusDecoder(48000)
