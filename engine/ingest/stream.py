"""Sans-I/O state of one ingest call: its legs' :class:`~jiesu.engine.legstream.LegStream`\\ s.

Values in, values out: :meth:`CallStream.push` takes an :class:`~.protocol.Audio` frame and
returns the chunks it completes (or why it was dropped); :meth:`CallStream.finish` flushes every
leg. The per-leg policy (gaps, duplicates, seq jumps, framing) is the one both doors share, in
:mod:`jiesu.engine.legstream`; this module adds what is the ingest's own: the ``start`` frame's
codec checks and frames naming a leg the call does not have.
"""

from __future__ import annotations

from jiesu.codecs.errors import CodecUnavailable
from jiesu.codecs.payload import SUPPORTED_CODECS
from jiesu.engine.audio import PIPELINE_RATE_HZ, AudioChunk, Leg
from jiesu.engine.calls import CallStats
from jiesu.engine.ingest.protocol import Audio, Start
from jiesu.engine.legstream import (
    DEFAULT_MAX_GAP_MS,
    DecoderFactory,
    Drop,
    DropReason,
    LegStream,
    PcmDecoder,
    PushResult,
    ResamplerFactory,
    StartRefused,
    default_decoder,
    default_resampler,
    payload_bytes,
)


class CallStream:
    """All legs of one call, built from its ``start`` frame."""

    def __init__(
        self,
        start: Start,
        *,
        decoder_factory: DecoderFactory = default_decoder,
        resampler_factory: ResamplerFactory = default_resampler,
        max_gap_ms: int = DEFAULT_MAX_GAP_MS,
    ) -> None:
        self.call_id = start.call_id
        self.codec = start.codec
        self.rate = start.rate
        self.ptime_ms = start.ptime_ms
        self.legs = start.legs
        self._unknown_leg = 0
        self._legs: dict[Leg, LegStream] = {}
        for leg in start.legs:
            decoder = self._open_decoder(decoder_factory, start)
            self._legs[leg] = LegStream(
                call_id=start.call_id,
                leg=leg,
                codec=start.codec,
                ptime_ms=start.ptime_ms,
                decoder=decoder,
                resampler=resampler_factory(decoder.rate, PIPELINE_RATE_HZ),
                max_gap_frames=max(1, max_gap_ms // start.ptime_ms),
                frame_bytes=payload_bytes(start.codec, decoder.rate, start.ptime_ms),
            )

    @staticmethod
    def _open_decoder(factory: DecoderFactory, start: Start) -> PcmDecoder:
        if start.codec not in SUPPORTED_CODECS:
            raise StartRefused(
                "unsupported_codec",
                f"unknown codec {start.codec!r}; supported: {', '.join(SUPPORTED_CODECS)}",
            )
        try:
            decoder = factory(start.codec, start.rate)
        except CodecUnavailable as exc:
            raise StartRefused("codec_unavailable", str(exc)) from None
        except ValueError as exc:  # CodecError: a rate the codec cannot carry
            raise StartRefused("bad_codec_params", str(exc)) from None
        if decoder.rate != start.rate:
            raise StartRefused(
                "bad_codec_params",
                f"{start.codec} carries {decoder.rate} Hz PCM, start says rate {start.rate}",
            )
        return decoder

    def push(self, frame: Audio) -> PushResult:
        stream = self._legs.get(frame.leg)
        if stream is None:
            self._unknown_leg += 1
            legs = ", ".join(leg.value for leg in self.legs)
            return PushResult(
                drop=Drop(
                    DropReason.UNKNOWN_LEG, f"call has legs [{legs}], not {frame.leg.value!r}"
                )
            )
        return stream.push(frame.seq, frame.codec, frame.payload)

    def finish(self) -> tuple[AudioChunk, ...]:
        """Flush every leg; returns their last chunks (leg by leg)."""
        chunks: list[AudioChunk] = []
        for stream in self._legs.values():
            chunks.extend(stream.finish())
        return tuple(chunks)

    def stats(self) -> CallStats:
        legs = [stream.stats() for stream in self._legs.values()]
        return CallStats.of_legs(legs, unknown_leg=self._unknown_leg)
