"""Resampling: streaming equals one-shot, lengths, pitch, clipping, identity, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest
import soxr  # the float path of the same library is the reference for clipping

from jiesu.codecs.errors import CodecError
from jiesu.codecs.resample import StreamResampler, resample

Pcm = npt.NDArray[np.int16]
RATES = (8000, 16000, 48000)
PAIRS = [(a, b) for a, b in itertools.product(RATES, RATES) if a != b]


def signal(rate: int, seconds: float = 1.0, seed: int = 0) -> Pcm:
    """1 kHz tone plus noise, well inside every rate's band."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    x = 12000 * np.sin(2 * np.pi * 1000 * t) + rng.normal(0, 300, t.size)
    return np.clip(x, -32768, 32767).astype(np.int16)


def stream(resampler: StreamResampler, pcm: Pcm, chunk: int) -> Pcm:
    parts = [resampler.process(pcm[i : i + chunk]) for i in range(0, len(pcm), chunk)]
    parts.append(resampler.flush())
    return np.concatenate(parts)


def peak_hz(pcm: Pcm, rate: int) -> float:
    x = pcm.astype(np.float64) * np.hanning(len(pcm))
    return float(np.argmax(np.abs(np.fft.rfft(x))) * rate / len(pcm))


@pytest.mark.parametrize(("in_rate", "out_rate"), PAIRS)
def test_streaming_in_20ms_chunks_matches_one_shot(in_rate: int, out_rate: int) -> None:
    pcm = signal(in_rate)
    streamed = stream(StreamResampler(in_rate, out_rate), pcm, in_rate // 50)
    whole = resample(pcm, in_rate, out_rate)
    assert streamed.dtype == whole.dtype == np.int16
    assert len(streamed) == len(whole)
    # Same filter, different block boundaries: at most a rounding step apart.
    assert np.abs(streamed.astype(np.int32) - whole).max() <= 1


@pytest.mark.parametrize(("in_rate", "out_rate"), PAIRS)
def test_total_length_after_flush(in_rate: int, out_rate: int) -> None:
    pcm = signal(in_rate, 0.5)[: in_rate // 2 - 13]  # not a whole number of frames
    out = stream(StreamResampler(in_rate, out_rate), pcm, 97)  # awkward chunk size
    assert abs(len(out) - len(pcm) * out_rate / in_rate) <= 2


@pytest.mark.parametrize(("in_rate", "out_rate"), PAIRS)
def test_1khz_tone_stays_at_1khz(in_rate: int, out_rate: int) -> None:
    out = stream(StreamResampler(in_rate, out_rate), signal(in_rate), in_rate // 50)
    # FFT bins are 1 Hz wide over one second of output.
    assert abs(peak_hz(out, out_rate) - 1000.0) <= 1.0


def test_streamed_output_is_aligned_with_the_input() -> None:
    # An impulse at 0.25 s must come out at 0.25 s: no shift from streaming or flushing.
    pcm = np.zeros(8000, np.int16)
    pcm[2000] = 20000
    out = stream(StreamResampler(8000, 16000), pcm, 160)
    assert abs(int(np.argmax(out)) - 4000) <= 1


def test_downsampling_removes_content_above_the_new_nyquist() -> None:
    # 6 kHz at 48 kHz must not alias into the 8 kHz output band (it would land at 2 kHz).
    t = np.arange(48000) / 48000
    pcm = (12000 * np.sin(2 * np.pi * 6000 * t)).astype(np.int16)
    out = stream(StreamResampler(48000, 8000), pcm, 960)
    assert np.sqrt(np.mean(out[800:-800].astype(np.float64) ** 2)) < 12000 * 0.01


def test_clipping_is_safe() -> None:
    # A full-scale square wave overshoots (Gibbs) when band-limited. The int16 output must equal
    # the float computation clipped to the int16 range: a wrap-around would be off by ~65536.
    square = np.where((np.arange(16000) // 40) % 2 == 0, 32767, -32768).astype(np.int16)
    out = stream(StreamResampler(16000, 48000), square, 320)
    reference = soxr.resample(square.astype(np.float64), 16000, 48000)
    assert np.abs(reference).max() > 35000  # the test signal really does overshoot
    expected = np.clip(np.round(reference), -32768, 32767)
    assert len(out) == len(expected)
    assert np.abs(out.astype(np.float64) - expected).max() <= 4
    assert out.max() == 32767 and out.min() == -32768


def test_identity_is_a_pass_through() -> None:
    pcm = signal(16000, 0.1)
    resampler = StreamResampler(16000, 16000)
    out = resampler.process(pcm)
    assert np.array_equal(out, pcm) and out is not pcm
    assert resampler.flush().shape == (0,)
    assert resampler.delay == 0.0
    assert np.array_equal(resample(pcm, 16000, 16000), pcm)


def test_flush_resets_for_a_new_stream() -> None:
    pcm = signal(8000, 0.3)
    resampler = StreamResampler(8000, 16000)
    first = stream(resampler, pcm, 160)
    second = stream(resampler, pcm, 160)
    assert np.array_equal(first, second)


def test_output_is_deterministic() -> None:
    # Two streams fed the same input must agree exactly (libsoxr's own int16 output is dithered
    # with a time-based seed and would not).
    pcm = signal(8000, 0.3)
    outputs = [stream(StreamResampler(8000, 16000), pcm, 160) for _ in range(3)]
    assert all(np.array_equal(outputs[0], other) for other in outputs[1:])


def test_latency_stays_bounded() -> None:
    # libsoxr releases output in blocks; what it holds back must stay below 150 ms at 8->16 kHz,
    # or 20 ms chunks would reach the pipeline far too late.
    resampler = StreamResampler(8000, 16000)
    fed = produced = 0
    worst = 0
    for _ in range(200):
        produced += len(resampler.process(np.zeros(160, np.int16)))
        fed += 160
        worst = max(worst, fed * 2 - produced)
    assert worst <= 16000 * 150 // 1000


def test_empty_chunks_are_fine() -> None:
    resampler = StreamResampler(16000, 8000)
    assert resampler.process(np.zeros(0, np.int16)).shape == (0,)


@pytest.mark.parametrize(
    "bad", [np.zeros(10, np.float32), np.zeros((5, 2), np.int16), [1, 2, 3], np.zeros(3, np.int32)]
)
def test_non_int16_input_is_refused(bad: object) -> None:
    with pytest.raises(CodecError, match="int16"):
        StreamResampler(8000, 16000).process(bad)  # type: ignore[arg-type]
    with pytest.raises(CodecError, match="int16"):
        resample(bad, 8000, 16000)  # type: ignore[arg-type]


@pytest.mark.parametrize(("in_rate", "out_rate"), [(0, 16000), (8000, -1), (8000.5, 16000)])
def test_bad_rates_are_refused(in_rate: object, out_rate: object) -> None:
    with pytest.raises(CodecError, match="rate"):
        StreamResampler(in_rate, out_rate)  # type: ignore[arg-type]


def test_bad_quality_is_refused() -> None:
    with pytest.raises(CodecError, match="quality"):
        StreamResampler(8000, 16000, quality="best")
