"""The per-leg stream policy both doors share: ordering, gaps, drops, decoding and framing.

Values in, values out: :meth:`LegStream.push` takes one frame (seq, codec, payload) of one leg and
returns the :class:`~jiesu.engine.audio.AudioChunk`\\ s it completes (or why it was dropped);
:meth:`LegStream.finish` flushes the resampler and returns the last chunks. No sockets, no clocks,
no logging: each door turns drops into its own error frames and counters.

Timing contract, per (call, leg): frame ``seq`` n carries the audio of media time
``[n * ptime_ms, (n + 1) * ptime_ms)``. Chunk n is exactly that interval at 16 kHz
(``ptime_ms * 16`` samples), with ``seq`` n and ``t_media_ms = n * ptime_ms``. A missing frame
(a gap in ``seq``) is filled with silence, so chunk ``seq`` stays gap-free and sample counts stay
true, but never more than ``max_gap_frames`` of it: a seq further ahead is refused (``seq_jump``),
so a sender that skips its counter cannot make a door allocate without bound. Frames that arrive
after a later one (duplicates, late frames) are dropped: there is no reordering buffer (both
doors' transports are ordered; a sender that reorders is broken).

Resamplers (8 kHz -> 16 kHz etc.) hold back some samples and may release their output in bursts;
chunks are cut from the resampler's output as it comes, so a chunk may leave a little after its
frame arrived, but never early and never shifted in time. :meth:`LegStream.finish` flushes the
resampler's tail and then pads or trims to exactly one chunk per frame slot.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from jiesu.engine.audio import PIPELINE_RATE_HZ, AudioChunk, Leg
from jiesu.engine.calls import FRAME_COUNT_FIELDS, LegStats

Pcm = npt.NDArray[np.int16]

#: A seq more than this far ahead of the next expected one is refused instead of being filled
#: with silence (a broken client would otherwise make the ingest produce minutes of zeros).
DEFAULT_MAX_GAP_MS = 10_000
#: How many recent seqs are remembered to tell a duplicate from a late frame.
_SEEN_WINDOW = 256


class PcmDecoder(Protocol):
    """What the ingest needs of :class:`jiesu.codecs.payload.PayloadDecoder`."""

    @property
    def codec(self) -> str: ...

    @property
    def rate(self) -> int: ...

    def decode(self, payload: bytes) -> Pcm: ...


class PcmResampler(Protocol):
    """What the ingest needs of :class:`jiesu.codecs.resample.StreamResampler`."""

    def process(self, pcm: Pcm) -> Pcm: ...

    def flush(self) -> Pcm: ...


DecoderFactory = Callable[[str, int], PcmDecoder]
ResamplerFactory = Callable[[int, int], PcmResampler]


class DropReason(enum.StrEnum):
    """Why an audio frame was not used (also the ``code`` of the error frame and the metric label)."""

    UNKNOWN_LEG = "unknown_leg"
    CODEC_MISMATCH = "codec_mismatch"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    SEQ_JUMP = "seq_jump"
    BAD_SIZE = "bad_size"
    BAD_PAYLOAD = "bad_payload"


@dataclass(frozen=True, slots=True)
class Drop:
    reason: DropReason
    message: str


@dataclass(frozen=True, slots=True)
class PushResult:
    """What one audio frame produced: chunks now complete, frames filled as lost, or a drop."""

    chunks: tuple[AudioChunk, ...] = ()
    drop: Drop | None = None
    #: Frame slots filled with silence before this frame (the gap it revealed).
    lost: int = 0


class StartRefused(Exception):
    """A ``start`` that cannot be served; ``code`` goes into the error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Payload bytes per ms for codecs with a fixed bit rate, as a function of the PCM rate. Payloads
# of any other size are refused before decoding, so that a stateful decoder (G.722) never sees a
# broken frame. Codecs missing here (Opus) are checked by the number of samples they decode to.
_BYTES_PER_MS: dict[str, Callable[[int], float]] = {
    "pcmu": lambda rate: rate / 1000,  # one byte per sample
    "pcma": lambda rate: rate / 1000,
    "g722": lambda rate: 8.0,  # 64 kbit/s, whatever the PCM side runs at
    "l16": lambda rate: 2 * rate / 1000,  # two bytes per sample
    "s16le": lambda rate: 2 * rate / 1000,
}


def samples_per_frame(rate: int, ptime_ms: int) -> int | None:
    """PCM samples in one frame, or None when ``rate * ptime_ms`` is not a whole number of ms."""
    total = rate * ptime_ms
    return total // 1000 if total % 1000 == 0 else None


def payload_bytes(codec: str, rate: int, ptime_ms: int) -> int | None:
    """Exact payload size of one frame for fixed-rate codecs; None for variable-rate ones."""
    per_ms = _BYTES_PER_MS.get(codec)
    if per_ms is None:
        return None
    size = per_ms(rate) * ptime_ms
    return int(size) if size == int(size) else None


def default_decoder(codec: str, rate: int) -> PcmDecoder:
    from jiesu.codecs.payload import open_decoder

    decoder: PcmDecoder = open_decoder(codec, rate)
    return decoder


def default_resampler(in_rate: int, out_rate: int) -> PcmResampler:
    from jiesu.codecs.resample import StreamResampler

    resampler: PcmResampler = StreamResampler(in_rate, out_rate)
    return resampler


class LegStream:
    """One leg of one call: expects seq 0, 1, 2, … and turns frames into 16 kHz chunks."""

    def __init__(
        self,
        call_id: str,
        leg: Leg,
        codec: str,
        ptime_ms: int,
        decoder: PcmDecoder,
        resampler: PcmResampler,
        *,
        max_gap_frames: int,
        frame_bytes: int | None,
    ) -> None:
        """``frame_bytes``: exact payload size, or None to check the decoded sample count."""
        in_samples = samples_per_frame(decoder.rate, ptime_ms)
        out_samples = samples_per_frame(PIPELINE_RATE_HZ, ptime_ms)
        if in_samples is None or out_samples is None:
            raise StartRefused(
                "bad_codec_params",
                f"{ptime_ms} ms at {decoder.rate} Hz is not a whole number of samples",
            )
        self.call_id = call_id
        self.leg = leg
        self.codec = codec
        self.ptime_ms = ptime_ms
        self.decoder = decoder
        self.resampler = resampler
        self.max_gap_frames = max_gap_frames
        self.frame_bytes = frame_bytes
        self.in_samples = in_samples
        self.out_samples = out_samples
        self._next_seq = 0
        #: Bit i set: seq ``_next_seq - 1 - i`` arrived and was used.
        self._seen = 0
        self._pending: Pcm = np.zeros(0, np.int16)
        self._finished = False
        #: Counts by :class:`~jiesu.engine.calls.FrameCounts` field name (a dict: bumped per frame).
        self._count = dict.fromkeys(FRAME_COUNT_FIELDS, 0)

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def push(self, seq: int, codec: str, payload: bytes) -> PushResult:
        """Take one frame; returns the chunks it completes or why it was dropped."""
        count = self._count
        count["received"] += 1
        if self._finished:
            raise RuntimeError("push after finish")
        if codec != self.codec:
            return self._bad(
                DropReason.CODEC_MISMATCH, f"frame codec {codec!r}, call codec {self.codec!r}"
            )
        if seq < self._next_seq:
            back = self._next_seq - 1 - seq
            if back < _SEEN_WINDOW and (self._seen >> back) & 1:
                count["duplicates"] += 1
                return PushResult(drop=Drop(DropReason.DUPLICATE, f"seq {seq} already received"))
            count["out_of_order"] += 1
            return PushResult(
                drop=Drop(
                    DropReason.OUT_OF_ORDER,
                    f"seq {seq} arrived after seq {self._next_seq - 1}; its slot is filled",
                )
            )
        gap = seq - self._next_seq
        if gap > self.max_gap_frames:
            return self._bad(
                DropReason.SEQ_JUMP,
                f"seq {seq} is {gap} frames ahead of {self._next_seq} "
                f"(at most {self.max_gap_frames} are filled with silence)",
            )
        if self.frame_bytes is not None and len(payload) != self.frame_bytes:
            return self._bad(
                DropReason.BAD_SIZE,
                f"{len(payload)} bytes, {self.codec} at {self.ptime_ms} ms needs "
                f"{self.frame_bytes}",
            )
        try:
            pcm = self.decoder.decode(payload)
        except ValueError as exc:  # CodecError is a ValueError
            return self._bad(DropReason.BAD_PAYLOAD, f"cannot decode: {exc}")
        if pcm.ndim != 1 or len(pcm) != self.in_samples:
            return self._bad(
                DropReason.BAD_SIZE,
                f"decoded to {len(pcm)} samples, {self.ptime_ms} ms needs {self.in_samples}",
            )
        if gap:
            silence = np.zeros(gap * self.in_samples, np.int16)
            self._feed(self.resampler.process(silence))
            count["lost"] += gap
        self._feed(self.resampler.process(pcm.astype(np.int16, copy=False)))
        count["frames"] += 1
        self._seen = ((self._seen << (gap + 1)) | 1) & ((1 << _SEEN_WINDOW) - 1)
        self._next_seq = seq + 1
        return PushResult(chunks=self._cut(final=False), lost=gap)

    def finish(self) -> tuple[AudioChunk, ...]:
        """Flush the resampler; returns the remaining chunks (exactly one chunk per slot)."""
        if self._finished:
            return ()
        self._feed(self.resampler.flush())
        self._finished = True
        return self._cut(final=True)

    def stats(self) -> LegStats:
        return LegStats(leg=self.leg, **self._count)

    def _bad(self, reason: DropReason, message: str) -> PushResult:
        self._count["bad"] += 1
        return PushResult(drop=Drop(reason, message))

    def _feed(self, pcm: Pcm) -> None:
        if len(pcm):
            self._pending = np.concatenate((self._pending, pcm.astype(np.int16, copy=False)))

    def _cut(self, *, final: bool) -> tuple[AudioChunk, ...]:
        """Cut whole chunks from the pending output, never more than the slots seen so far."""
        n = self.out_samples
        slots = self._next_seq
        count = self._count
        if final:
            # Resamplers round: pad or trim the tail so that every slot gets exactly n samples.
            want = (slots - count["chunks"]) * n
            have = len(self._pending)
            if have < want:
                self._pending = np.concatenate((self._pending, np.zeros(want - have, np.int16)))
            else:
                self._pending = self._pending[:want]
        ready = min(len(self._pending) // n, slots - count["chunks"])
        if ready <= 0:
            return ()
        chunks = []
        for i in range(ready):
            pcm = self._pending[i * n : (i + 1) * n].copy()
            pcm.flags.writeable = False
            seq = count["chunks"] + i
            chunks.append(AudioChunk(self.call_id, self.leg, seq, seq * self.ptime_ms, pcm))
        self._pending = self._pending[ready * n :]
        count["chunks"] += ready
        count["samples"] += ready * n
        return tuple(chunks)
