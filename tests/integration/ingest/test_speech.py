"""Real Mandarin recordings streamed through IngestClient -> websocket -> IngestServer -> sink.

The sink must get one 20 ms chunk per frame, gap-free, with the audio's duration, and audio that
matches the original: bit-exact for 16 kHz L16, close to the band-limited original for G.711 and
G.722, at the right time offset (no shift from resampler delay).
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from jiesu.codecs.resample import resample
from jiesu.engine.audio import Leg

Pcm = npt.NDArray[np.int16]

LONG = "soulx_male_mandarin.wav"  # 13.8 s, one speaker
SHORT = "firered_BAC009S0764W0121.wav"  # 4.2 s
OTHER = "mossttsd_zh_spk2_moon.wav"  # 8.6 s, another speaker
TINY = "speechio_CCTV_1.wav"  # 1.28 s


def snr_db(signal: Pcm, reference: Pcm) -> float:
    n = min(len(signal), len(reference))
    ref = reference[:n].astype(np.float64)
    err = signal[:n].astype(np.float64) - ref
    return 10 * math.log10(np.sum(ref**2) / max(float(np.sum(err**2)), 1e-9))


def best_lag(signal: Pcm, reference: Pcm, max_lag: int = 400) -> int:
    """Lag (in samples) at which ``signal`` best matches ``reference``."""
    n = min(len(signal), len(reference)) - 2 * max_lag
    ref = reference[max_lag : max_lag + n].astype(np.float64)
    scores = [
        float(np.dot(signal[max_lag + lag : max_lag + lag + n].astype(np.float64), ref))
        for lag in range(-max_lag, max_lag + 1)
    ]
    return int(np.argmax(scores)) - max_lag


def frames_for(samples: int, rate: int, ptime_ms: int = 20) -> int:
    return math.ceil(samples / (rate * ptime_ms // 1000))


async def test_mandarin_as_ulaw_8k(ingest: Any, speech: Any) -> None:
    pcm, rate, path = speech(LONG)
    client = await ingest.connected()
    stats = await client.stream_wav(path, "ulaw-1", codec="pcmu", caller_number="13812345678")
    ended = await ingest.sink.wait_ended("ulaw-1")

    frames = frames_for(len(pcm), rate)
    duration_ms = 1000 * len(pcm) / rate
    chunks = ingest.sink.leg_chunks("ulaw-1", Leg.CALLER)
    assert len(chunks) == frames == stats.frames == stats.chunks
    assert (stats.lost, stats.duplicates, stats.out_of_order, stats.bad) == (0, 0, 0, 0)
    assert ended.reason == "hangup" and ended.stats == stats and ended.chunks_received == frames
    assert [c.seq for c in chunks] == list(range(frames))
    assert [c.t_media_ms for c in chunks] == [20 * i for i in range(frames)]
    assert all(len(c.pcm) == 320 and c.rate == 16000 for c in chunks)
    total = sum(len(c.pcm) for c in chunks)
    assert abs(total - len(pcm)) <= 320, "total samples differ from the recording by > 1 frame"
    assert abs(stats.duration_ms - duration_ms) <= 20

    out = ingest.sink.leg_pcm("ulaw-1", Leg.CALLER)
    # G.711 keeps only the 0-4 kHz band: compare with the original taken down to 8 kHz and back.
    band_limited = resample(resample(pcm, rate, 8000), 8000, rate)
    assert best_lag(out, band_limited) == 0, "chunks are shifted in time"
    snr = snr_db(out, band_limited)
    assert snr > 30, f"μ-law round trip SNR {snr:.1f} dB"
    # And it is this recording, not some other audio: the full-band original correlates too.
    corr = np.corrcoef(out[: len(pcm)].astype(np.float64), pcm.astype(np.float64))[0, 1]
    assert corr > 0.9, f"correlation with the original {corr:.3f}"
    call = ingest.sink.started["ulaw-1"]
    assert (call.codec, call.rate, call.caller_masked) == ("pcmu", 8000, "138****5678")


async def test_mandarin_as_l16_16k_is_bit_exact(ingest: Any, speech: Any) -> None:
    pcm, rate, path = speech(SHORT)
    client = await ingest.connected()
    stats = await client.stream_wav(path, "l16-1", codec="l16", rate=16000)
    await ingest.sink.wait_ended("l16-1")
    out = ingest.sink.leg_pcm("l16-1", Leg.CALLER)
    assert len(ingest.sink.leg_chunks("l16-1", Leg.CALLER)) == frames_for(len(pcm), rate)
    assert stats.chunks == stats.frames == frames_for(len(pcm), rate)
    assert np.array_equal(out[: len(pcm)], pcm), "16 kHz L16 must pass through unchanged"
    assert not out[len(pcm) :].any(), "the padding of the last frame is silence"


async def test_mandarin_as_g722(ingest: Any, speech: Any) -> None:
    pcm, rate, path = speech(SHORT)
    client = await ingest.connected()
    stats = await client.stream_wav(path, "g722-1", codec="g722")
    await ingest.sink.wait_ended("g722-1")
    out = ingest.sink.leg_pcm("g722-1", Leg.CALLER)
    assert stats.frames == stats.chunks == frames_for(len(pcm), rate)
    # G.722's ADPCM has a fixed group delay of a few samples; it must stay that small.
    lag = best_lag(out, pcm, max_lag=64)
    assert 0 <= lag <= 40, f"G.722 output lags by {lag} samples"
    snr = snr_db(out[lag:], pcm)
    assert snr > 20, f"G.722 round trip SNR {snr:.1f} dB"


async def test_two_legs_of_one_call_are_kept_apart(ingest: Any, speech: Any) -> None:
    caller, rate, _ = speech(SHORT)
    agent, rate2, _ = speech(OTHER)
    assert rate == rate2 == 16000
    client = await ingest.connected()
    stats = await client.stream_call(
        "two-legs", {Leg.CALLER: caller, Leg.AGENT: agent}, rate, codec="pcma"
    )
    await ingest.sink.wait_ended("two-legs")
    assert stats is not None
    by_leg = {leg.leg: leg for leg in stats.legs}
    assert by_leg[Leg.CALLER].chunks == frames_for(len(caller), rate)
    assert by_leg[Leg.AGENT].chunks == frames_for(len(agent), rate)
    out_caller = ingest.sink.leg_pcm("two-legs", Leg.CALLER)
    out_agent = ingest.sink.leg_pcm("two-legs", Leg.AGENT)
    n = min(len(caller), len(agent))

    def corr(a: Pcm, b: Pcm) -> float:
        return float(np.corrcoef(a[:n].astype(np.float64), b[:n].astype(np.float64))[0, 1])

    assert corr(out_caller, caller) > 0.9 and corr(out_agent, agent) > 0.9
    assert abs(corr(out_caller, agent)) < 0.2 and abs(corr(out_agent, caller)) < 0.2


async def test_real_time_pacing_delivers_chunks_while_the_call_is_running(
    ingest: Any, speech: Any
) -> None:
    pcm, rate, path = speech(TINY)
    client = await ingest.connected()
    t0 = time.monotonic()
    stats = await client.stream_wav(path, "paced", codec="pcmu", realtime=True)
    elapsed = time.monotonic() - t0
    await ingest.sink.wait_ended("paced")
    audio_s = len(pcm) / rate
    assert elapsed >= audio_s - 0.05, f"streamed {audio_s:.2f} s of audio in {elapsed:.2f} s"
    arrival = ingest.sink.arrival
    assert len(arrival) == stats.chunks
    # Streaming, not one batch at the end: half the chunks were out by mid-call.
    mid = t0 + audio_s / 2
    early = sum(1 for t in arrival if t <= mid + 0.2)
    assert early >= stats.chunks // 3, f"only {early} of {stats.chunks} chunks by mid-call"


async def test_many_calls_multiplexed_on_one_connection(ingest: Any, speech: Any) -> None:
    pcm, rate, _ = speech(TINY)
    client = await ingest.connected()
    calls = [f"mux-{i}" for i in range(4)]
    # Different audio per call (a shifted copy) so that mixing calls up would show.
    sources = {call: np.roll(pcm, 1600 * i) for i, call in enumerate(calls)}
    results = await asyncio.gather(
        *(
            client.stream_call(call, {Leg.CALLER: sources[call]}, rate, codec="l16", rate=16000)
            for call in calls
        )
    )
    for call, stats in zip(calls, results, strict=True):
        assert stats is not None and stats.frames == frames_for(len(pcm), rate)
        out = ingest.sink.leg_pcm(call, Leg.CALLER)
        assert np.array_equal(out[: len(pcm)], sources[call]), call


async def test_mandarin_as_opus_48k(ingest: Any, speech: Any) -> None:
    from jiesu.codecs.payload import available_codecs

    if "opus" not in available_codecs():
        pytest.skip("Opus needs libopus and opuslib, which are not installed here")
    pcm, rate, path = speech(SHORT)
    client = await ingest.connected()
    stats = await client.stream_wav(path, "opus-1", codec="opus")
    await ingest.sink.wait_ended("opus-1")
    assert stats.frames == stats.chunks == frames_for(len(pcm), rate) and stats.bad == 0
    out = ingest.sink.leg_pcm("opus-1", Leg.CALLER)
    lag = best_lag(out, pcm, max_lag=400)
    # Opus' own look-ahead is 6.5 ms (104 samples at 16 kHz); the ingest must add nothing.
    assert 0 <= lag <= 160, f"Opus output lags by {lag} samples"
    corr = np.corrcoef(
        out[lag : lag + len(pcm) - 400].astype(np.float64), pcm[: len(pcm) - 400].astype(np.float64)
    )[0, 1]
    assert corr > 0.8, f"Opus round trip correlation {corr:.3f}"
