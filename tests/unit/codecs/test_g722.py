"""G.722: round-trip quality, state carried across frames, frame sizes, narrowband mode."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from shared_data import MANDARIN_SPEECH

from jiesu.codecs.errors import CodecError
from jiesu.codecs.g722 import G722Decoder, G722Encoder

Pcm = npt.NDArray[np.int16]

SPEECH_DIR = MANDARIN_SPEECH
RATE = 16000
FRAME = 320  # 20 ms at 16 kHz
#: The QMF analysis + synthesis filters delay the signal by about 22-23 samples; search beyond.
MAX_DELAY = 64


def synthetic(seconds: float = 1.0, seed: int = 1) -> Pcm:
    """Speech-band sines at several levels plus noise (speech-like spectrum, no data needed)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)  # syllable-rate amplitude change
    x = envelope * (
        6000 * np.sin(2 * np.pi * 220 * t)
        + 3000 * np.sin(2 * np.pi * 1330 * t)
        + 1200 * np.sin(2 * np.pi * 3100 * t)
        + 600 * np.sin(2 * np.pi * 5200 * t)
    ) + rng.normal(0, 200, t.size)
    return np.clip(x, -32768, 32767).astype(np.int16)


def snr_db(reference: Pcm, decoded: Pcm) -> tuple[float, int]:
    """Best SNR over the codec delays 0..MAX_DELAY, and that delay."""
    ref = reference.astype(np.float64)
    out = decoded.astype(np.float64)
    best = (-np.inf, 0)
    n = min(len(ref), len(out))
    for delay in range(MAX_DELAY):
        a = ref[: n - delay]
        b = out[delay:n]
        noise = np.sum((a - b) ** 2)
        snr = 10 * np.log10(np.sum(a**2) / max(noise, 1e-9))
        best = max(best, (float(snr), delay))
    return best


def roundtrip(pcm: Pcm) -> Pcm:
    return G722Decoder().decode(G722Encoder().encode(pcm))


def test_synthetic_roundtrip_snr_and_delay() -> None:
    pcm = synthetic()
    snr, delay = snr_db(pcm, roundtrip(pcm))
    # G.722 at 64 kbit/s is near-transparent on speech-band signals; 20 dB is a floor that a
    # broken wrapper (lost state, wrong byte order, shifted samples) falls far below.
    assert snr > 20.0
    assert 15 <= delay <= 30


def test_snr_check_catches_a_broken_stream() -> None:
    # Guard on the measure itself: frames decoded out of order must score far below the floor.
    pcm = synthetic()
    payload = G722Encoder().encode(pcm)
    shuffled = np.frombuffer(payload, np.uint8).reshape(-1, 160)[::-1].tobytes()
    snr, _ = snr_db(pcm, G722Decoder().decode(shuffled))
    assert snr < 5.0


def _speech_files() -> list[Path]:
    return sorted(SPEECH_DIR.glob("*.wav")) if SPEECH_DIR.is_dir() else []


def _read_wav(path: Path) -> Pcm:
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2), path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)


@pytest.mark.skipif(
    not _speech_files(), reason=f"needs the shared speech data: no WAV files in {SPEECH_DIR}"
)
def test_real_speech_roundtrip_snr() -> None:
    # Development numbers on these clips are 20-35 dB; 15 dB leaves room for harder audio.
    for path in _speech_files():
        pcm = _read_wav(path)
        snr, _ = snr_db(pcm, roundtrip(pcm))
        assert snr > 15.0, f"{path.name}: SNR {snr:.1f} dB"


def test_frame_by_frame_equals_one_shot() -> None:
    pcm = synthetic(0.5)
    one_shot = G722Encoder().encode(pcm)
    encoder = G722Encoder()
    frames = [encoder.encode(pcm[i : i + FRAME]) for i in range(0, len(pcm), FRAME)]
    assert all(len(f) == 160 for f in frames)  # 20 ms at 64 kbit/s
    assert b"".join(frames) == one_shot

    decoder = G722Decoder()
    decoded = np.concatenate([decoder.decode(f) for f in frames])
    assert len(decoded) == len(pcm)
    assert np.array_equal(decoded, G722Decoder().decode(one_shot))


def test_odd_chunks_hold_one_sample_and_stay_in_step() -> None:
    pcm = synthetic(0.2)
    encoder = G722Encoder()
    chunks = [encoder.encode(pcm[i : i + 7]) for i in range(0, len(pcm), 7)]
    assert b"".join(chunks) == G722Encoder().encode(pcm[: len(pcm) - len(pcm) % 2])
    assert encoder.pending_samples == len(pcm) % 2
    assert encoder.encode(np.zeros(0, np.int16)) == b""


def test_state_is_per_object() -> None:
    pcm = synthetic(0.1)
    first = G722Encoder()
    first.encode(synthetic(0.1, seed=3))
    assert first.encode(pcm) != G722Encoder().encode(pcm)


def test_narrowband_output_mode() -> None:
    # Decode the wideband stream to 8 kHz: one sample per byte, carrying the low band only.
    t = np.arange(RATE) / RATE
    pcm = (8000 * np.sin(2 * np.pi * 500 * t)).astype(np.int16)
    payload = G722Encoder().encode(pcm)
    narrow = G722Decoder(rate=8000).decode(payload)
    assert len(narrow) == len(payload)
    spectrum = np.abs(np.fft.rfft(narrow[800:].astype(np.float64)))
    peak_hz = np.argmax(spectrum) * 8000 / len(narrow[800:])
    assert abs(peak_hz - 500) < 5


def test_narrowband_input_mode_encodes_one_byte_per_sample() -> None:
    t = np.arange(8000) / 8000
    pcm = (8000 * np.sin(2 * np.pi * 700 * t)).astype(np.int16)
    payload = G722Encoder(rate=8000).encode(pcm)
    assert len(payload) == len(pcm)
    snr, _ = snr_db(pcm, G722Decoder(rate=8000).decode(payload))
    assert snr > 15.0


def test_bad_arguments() -> None:
    with pytest.raises(CodecError, match="rate"):
        G722Encoder(rate=48000)
    with pytest.raises(CodecError, match="bit rate"):
        G722Decoder(bit_rate=32000)
    with pytest.raises(CodecError, match="int16"):
        G722Encoder().encode(np.zeros(4, np.float64))  # type: ignore[arg-type]
    with pytest.raises(CodecError, match="bytes"):
        G722Decoder().decode([1, 2, 3])  # type: ignore[arg-type]
