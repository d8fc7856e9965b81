"""The sans-I/O per-call, per-leg ingest state: ordering, gaps, drops, framing and resampling.

Frames here are little-endian 16-bit PCM decoded by a tiny injected decoder (so every frame can
carry a recognisable value); the resampling tests use the real libsoxr-based resampler.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import pytest

from jiesu.codecs.errors import CodecError, CodecUnavailable
from jiesu.codecs.resample import StreamResampler, resample
from jiesu.engine.audio import AudioChunk, Leg
from jiesu.engine.ingest.protocol import Audio, Start
from jiesu.engine.ingest.stream import CallStream
from jiesu.engine.legstream import (
    DropReason,
    LegStream,
    PcmDecoder,
    PcmResampler,
    StartRefused,
    payload_bytes,
)

Pcm = npt.NDArray[np.int16]


class LeDecoder:
    """Little-endian int16 PCM; counts calls so tests can see a frame never reached it."""

    codec = "s16le"

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.calls = 0

    def decode(self, payload: bytes) -> Pcm:
        self.calls += 1
        if len(payload) % 2:
            raise ValueError("odd number of bytes")
        return np.frombuffer(payload, dtype="<i2").astype(np.int16)


class Identity:
    def process(self, pcm: Pcm) -> Pcm:
        return pcm.copy()

    def flush(self) -> Pcm:
        return np.zeros(0, np.int16)


def frame(value: int, samples: int = 320) -> bytes:
    return np.full(samples, value, dtype="<i2").tobytes()


def leg_stream(
    rate: int = 16000,
    *,
    ptime_ms: int = 20,
    max_gap_frames: int = 50,
    frame_bytes: int | None = 640,
    resampler: PcmResampler | None = None,
    decoder: PcmDecoder | None = None,
) -> LegStream:
    return LegStream(
        "c-1",
        Leg.CALLER,
        "s16le",
        ptime_ms,
        decoder or LeDecoder(rate),
        resampler or Identity(),
        max_gap_frames=max_gap_frames,
        frame_bytes=frame_bytes,
    )


def push_all(stream: LegStream, seqs: Sequence[int]) -> list[AudioChunk]:
    """Push frames whose samples all equal seq + 1; return every chunk, the flushed tail too."""
    chunks: list[AudioChunk] = []
    for seq in seqs:
        chunks.extend(stream.push(seq, "s16le", frame(seq + 1)).chunks)
    chunks.extend(stream.finish())
    return chunks


def levels(chunks: Sequence[AudioChunk]) -> list[int]:
    """The constant value of each chunk (each test frame is constant)."""
    out = []
    for chunk in chunks:
        assert np.all(chunk.pcm == chunk.pcm[0]), "a chunk mixes two frames"
        out.append(int(chunk.pcm[0]))
    return out


def test_frames_in_order_become_one_chunk_each_with_true_timing() -> None:
    stream = leg_stream()
    chunks = push_all(stream, range(5))
    assert [c.seq for c in chunks] == [0, 1, 2, 3, 4]
    assert [c.t_media_ms for c in chunks] == [0, 20, 40, 60, 80]
    assert levels(chunks) == [1, 2, 3, 4, 5]
    assert all(len(c.pcm) == 320 and c.rate == 16000 and c.leg is Leg.CALLER for c in chunks)
    stats = stream.stats()
    assert (stats.received, stats.frames, stats.chunks, stats.samples) == (5, 5, 5, 1600)
    assert (stats.lost, stats.duplicates, stats.out_of_order, stats.bad) == (0, 0, 0, 0)


def test_chunks_are_read_only_copies() -> None:
    chunks = push_all(leg_stream(), [0, 1])
    with pytest.raises(ValueError):
        chunks[0].pcm[0] = 9
    assert not np.shares_memory(chunks[0].pcm, chunks[1].pcm)


def test_a_duplicate_is_dropped_and_counted() -> None:
    stream = leg_stream()
    stream.push(0, "s16le", frame(1))
    stream.push(1, "s16le", frame(2))
    result = stream.push(1, "s16le", frame(99))
    assert result.drop is not None and result.drop.reason is DropReason.DUPLICATE
    assert result.chunks == ()
    assert "seq 1" in result.drop.message
    chunks = stream.finish()
    assert stream.stats().duplicates == 1
    assert stream.stats().chunks == 2 and stream.next_seq == 2
    assert 99 not in levels(chunks)


def test_a_gap_is_filled_with_silence_and_counted_lost() -> None:
    stream = leg_stream()
    first = stream.push(0, "s16le", frame(1))
    result = stream.push(3, "s16le", frame(4))
    assert first.lost == 0 and result.lost == 2
    chunks = list(first.chunks) + list(result.chunks) + list(stream.finish())
    assert [c.seq for c in chunks] == [0, 1, 2, 3]
    assert [c.t_media_ms for c in chunks] == [0, 20, 40, 60]
    assert levels(chunks) == [1, 0, 0, 4]
    stats = stream.stats()
    assert (stats.frames, stats.lost, stats.chunks, stats.samples) == (2, 2, 4, 4 * 320)


def test_a_stream_starting_late_fills_the_start() -> None:
    stream = leg_stream()
    chunks = push_all(stream, [2, 3])
    assert levels(chunks) == [0, 0, 3, 4]
    assert stream.stats().lost == 2


def test_a_late_frame_after_its_slot_was_filled_is_out_of_order() -> None:
    stream = leg_stream()
    stream.push(0, "s16le", frame(1))
    stream.push(2, "s16le", frame(3))
    late = stream.push(1, "s16le", frame(2))
    assert late.drop is not None and late.drop.reason is DropReason.OUT_OF_ORDER
    again = stream.push(0, "s16le", frame(1))
    assert again.drop is not None and again.drop.reason is DropReason.DUPLICATE
    stats = stream.stats()
    assert (stats.out_of_order, stats.duplicates, stats.lost, stats.received) == (1, 1, 1, 4)
    assert stream.stats().chunks == 3 and stream.finish() == ()  # all left at push time


def test_a_seq_jump_beyond_the_limit_is_refused_and_the_stream_goes_on() -> None:
    stream = leg_stream(max_gap_frames=10)
    stream.push(0, "s16le", frame(1))
    jump = stream.push(12, "s16le", frame(13))
    assert jump.drop is not None and jump.drop.reason is DropReason.SEQ_JUMP
    ok = stream.push(11, "s16le", frame(12))  # a gap of exactly the limit is filled
    assert ok.drop is None and ok.lost == 10
    assert stream.stats().bad == 1


def test_a_frame_in_another_codec_is_dropped() -> None:
    stream = leg_stream()
    decoder = stream.decoder
    assert isinstance(decoder, LeDecoder)
    result = stream.push(0, "pcmu", frame(1))
    assert result.drop is not None and result.drop.reason is DropReason.CODEC_MISMATCH
    assert "pcmu" in result.drop.message and decoder.calls == 0
    assert stream.stats().bad == 1 and stream.next_seq == 0


def test_a_payload_of_the_wrong_size_never_reaches_the_decoder() -> None:
    stream = leg_stream()
    decoder = stream.decoder
    assert isinstance(decoder, LeDecoder)
    result = stream.push(0, "s16le", frame(1, samples=319))
    assert result.drop is not None and result.drop.reason is DropReason.BAD_SIZE
    assert "638 bytes" in result.drop.message and "640" in result.drop.message
    assert decoder.calls == 0 and stream.next_seq == 0
    # The slot of the bad frame is filled with silence once the next good frame shows the gap.
    good = stream.push(1, "s16le", frame(2))
    assert good.lost == 1
    assert levels(list(good.chunks) + list(stream.finish())) == [0, 2]


def test_a_variable_rate_payload_is_checked_by_its_decoded_length() -> None:
    stream = leg_stream(frame_bytes=None)
    short = stream.push(0, "s16le", frame(1, samples=160))
    assert short.drop is not None and short.drop.reason is DropReason.BAD_SIZE
    undecodable = stream.push(0, "s16le", b"\x00" * 3)
    assert undecodable.drop is not None and undecodable.drop.reason is DropReason.BAD_PAYLOAD
    assert stream.push(0, "s16le", frame(1)).drop is None
    assert stream.stats().bad == 2


def test_push_after_finish_is_a_programming_error() -> None:
    stream = leg_stream()
    stream.finish()
    assert stream.finish() == ()
    with pytest.raises(RuntimeError):
        stream.push(0, "s16le", frame(1))


@pytest.mark.parametrize(
    ("codec", "rate", "ptime", "size"),
    [
        ("pcmu", 8000, 20, 160),
        ("pcma", 8000, 30, 240),
        ("g722", 16000, 20, 160),
        ("g722", 8000, 20, 160),
        ("l16", 16000, 20, 640),
        ("s16le", 44100, 20, 1764),
        ("l16", 11025, 10, None),  # 110.25 samples: not a whole frame
        ("opus", 48000, 20, None),
    ],
)
def test_payload_sizes(codec: str, rate: int, ptime: int, size: int | None) -> None:
    assert payload_bytes(codec, rate, ptime) == size


# --- resampling -------------------------------------------------------------------------------


def tone(rate: int, seconds: float, hz: float = 440.0) -> Pcm:
    t = np.arange(int(rate * seconds)) / rate
    return (8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


@pytest.mark.parametrize("rate", [8000, 48000, 44100])
def test_resampled_legs_give_exactly_one_aligned_chunk_per_frame(rate: int) -> None:
    """8/44.1/48 kHz in, 16 kHz out: the resampler holds samples back and releases them in
    bursts; chunks still come out whole, in order, never early, and all of them after finish."""
    n_in = rate // 50
    signal = tone(rate, 1.0)
    frames = len(signal) // n_in
    stream = leg_stream(rate, frame_bytes=2 * n_in, resampler=StreamResampler(rate, 16000))
    chunks: list[AudioChunk] = []
    for seq in range(frames):
        payload = signal[seq * n_in : (seq + 1) * n_in].astype("<i2").tobytes()
        result = stream.push(seq, "s16le", payload)
        assert result.drop is None
        chunks.extend(result.chunks)
        assert len(chunks) <= seq + 1  # never ahead of the frames received
    before_finish = len(chunks)
    chunks.extend(stream.finish())
    assert before_finish < frames  # the resampler really held something back
    assert [c.seq for c in chunks] == list(range(frames))
    assert [c.t_media_ms for c in chunks] == [20 * s for s in range(frames)]
    assert all(len(c.pcm) == 320 for c in chunks)
    out = np.concatenate([c.pcm for c in chunks]).astype(np.float64)
    reference = resample(signal, rate, 16000).astype(np.float64)[: len(out)]
    # Same signal, same timing: the streamed output matches a one-shot resampling closely.
    error = out[: len(reference)] - reference
    snr = 10 * np.log10(np.sum(reference**2) / max(np.sum(error**2), 1.0))
    assert snr > 30, f"streamed resampling differs from one-shot (SNR {snr:.1f} dB)"


def test_gap_silence_goes_through_the_resampler_too() -> None:
    n_in = 160
    stream = leg_stream(8000, frame_bytes=320, resampler=StreamResampler(8000, 16000))
    chunks: list[AudioChunk] = []
    for seq in (0, 1, 5, 6):  # frames 2-4 lost
        chunks.extend(
            stream.push(seq, "s16le", tone(8000, 0.02, 1000).astype("<i2").tobytes()).chunks
        )
    assert len(tone(8000, 0.02)) == n_in
    chunks.extend(stream.finish())
    assert [c.seq for c in chunks] == list(range(7))
    energy = [float(np.mean(c.pcm.astype(np.float64) ** 2)) for c in chunks]
    loud = energy[0]
    # Chunks 3 (fully inside the gap) is silent to within the resampler's filter ringing.
    assert energy[3] < loud * 1e-3
    assert energy[6] > loud * 0.3 and energy[1] > loud * 0.3
    assert stream.stats().lost == 3


# --- calls ------------------------------------------------------------------------------------


def start(**changes: object) -> Start:
    base: dict[str, object] = {
        "call_id": "c-1",
        "hotline": "12345",
        "agent_id": "a-7",
        "codec": "s16le",
        "rate": 16000,
        "legs": (Leg.CALLER, Leg.AGENT),
    }
    base.update(changes)
    return Start(**base)  # type: ignore[arg-type]


def call_stream(
    start_frame: Start, factory: Callable[[str, int], PcmDecoder] | None = None
) -> CallStream:
    return CallStream(
        start_frame,
        decoder_factory=factory or (lambda codec, rate: LeDecoder(rate)),
        resampler_factory=lambda a, b: Identity(),
    )


def test_a_call_keeps_its_legs_apart_and_sums_their_stats() -> None:
    call = call_stream(start())
    got: list[AudioChunk] = []
    for seq in range(3):
        got += call.push(Audio("c-1", Leg.CALLER, seq, "s16le", frame(100 + seq))).chunks
        got += call.push(Audio("c-1", Leg.AGENT, seq, "s16le", frame(200 + seq))).chunks
    unknown = call.push(Audio("c-1", Leg.MIXED, 0, "s16le", frame(1)))
    assert unknown.drop is not None and unknown.drop.reason is DropReason.UNKNOWN_LEG
    got += call.finish()
    caller = [c for c in got if c.leg is Leg.CALLER]
    agent = [c for c in got if c.leg is Leg.AGENT]
    assert levels(caller) == [100, 101, 102] and levels(agent) == [200, 201, 202]
    stats = call.stats()
    assert (stats.frames, stats.chunks, stats.bad, stats.received) == (6, 6, 1, 7)
    assert stats.duration_ms == 60 and stats.samples == 6 * 320
    assert [leg.leg for leg in stats.legs] == [Leg.CALLER, Leg.AGENT]


def test_each_leg_gets_its_own_decoder() -> None:
    made: list[LeDecoder] = []

    def factory(codec: str, rate: int) -> PcmDecoder:
        made.append(LeDecoder(rate))
        return made[-1]

    call_stream(start(), factory)
    assert len(made) == 2 and made[0] is not made[1]


def test_unknown_codec_refuses_the_start() -> None:
    with pytest.raises(StartRefused) as info:
        call_stream(start(codec="amr"))
    assert info.value.code == "unsupported_codec" and "amr" in info.value.message


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (CodecUnavailable("needs libopus"), "codec_unavailable"),
        (CodecError("no"), "bad_codec_params"),
    ],
)
def test_a_decoder_that_cannot_open_refuses_the_start(error: Exception, code: str) -> None:
    def factory(codec: str, rate: int) -> PcmDecoder:
        raise error

    with pytest.raises(StartRefused) as info:
        call_stream(start(codec="opus", rate=48000), factory)
    assert info.value.code == code and str(error) in info.value.message


def test_real_decoders_refuse_a_rate_their_codec_does_not_carry() -> None:
    with pytest.raises(StartRefused) as info:
        CallStream(start(codec="g722", rate=8000))  # G.722's RTP clock, not its audio rate
    assert info.value.code == "bad_codec_params" and "16000" in info.value.message


def test_a_rate_the_codec_does_not_carry_refuses_the_start() -> None:
    def factory(codec: str, rate: int) -> PcmDecoder:
        return LeDecoder(8000)  # e.g. G.711 is always 8 kHz

    with pytest.raises(StartRefused) as info:
        call_stream(start(rate=16000), factory)
    assert info.value.code == "bad_codec_params"


def test_a_frame_that_is_not_a_whole_number_of_samples_refuses_the_start() -> None:
    with pytest.raises(StartRefused) as info:
        call_stream(start(rate=11025, ptime_ms=10))
    assert info.value.code == "bad_codec_params"
