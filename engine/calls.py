"""The door contract: what every door into Jiesu (SIP, the websocket ingest) hands the engine.

A door calls an :class:`IngestSink` in this order for each call: ``call_started`` (awaited before
the door accepts the call's audio), then ``audio`` for every chunk of every leg (per leg in
``seq`` order, no gaps), then ``call_ended`` exactly once (after the last chunk; also when the
door loses the call). :class:`CallStats` is what the door counted on the way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Protocol

from jiesu.engine.audio import PIPELINE_RATE_HZ, AudioChunk, Leg
from jiesu.engine.events import CallMode


@dataclass(frozen=True, slots=True)
class IngestCall:
    """A call opened by a door. Holds no personal data in clear."""

    call_id: str
    hotline: str
    agent_id: str
    mode: CallMode
    #: The legs at the start. One more may join later, its chunks from ``seq`` 0: the agent's
    #: leg of an answered call handed over to an agent (the voice channel).
    legs: tuple[Leg, ...]
    #: The codec and PCM rate the door receives; chunks reach the sink at 16 kHz regardless.
    codec: str
    rate: int
    #: The caller's number masked with :func:`jiesu.engine.privacy.mask_phone`.
    caller_masked: str
    ptime_ms: int = 20
    #: Who opened the call: ``sub`` of the ingest token, or ``sip-worker-N``.
    source: str = ""
    #: Keyed hash of the caller's number (:class:`jiesu.engine.storage.keys.CallerKeyer`), to
    #: find their past tickets; not reversible without the key. Empty when unknown.
    caller_key: str = ""


class IngestSink(Protocol):
    """Receives calls and audio from a door (production: ``jiesu serve``; tests: a recorder)."""

    async def call_started(self, call: IngestCall) -> None:
        """A call was opened. Raising refuses the call (the door hangs up or says ``sink_error``)."""

    def audio(self, chunk: AudioChunk) -> None:
        """One chunk (16 kHz int16, read-only array). Must not block: the sink applies its own
        bounded-queue policy. An exception is logged and counted by the door, never passed on."""

    async def call_ended(self, call_id: str, reason: str, stats: CallStats) -> None:
        """The call ended; every chunk of it has been delivered before this is called."""


@dataclass(frozen=True, slots=True)
class FrameCounts:
    """What a door counted of the audio frames of one leg, or summed, of one call."""

    #: Audio frames received, good or not.
    received: int = 0
    #: Frames decoded and used.
    frames: int = 0
    #: Frame slots filled with silence because their seq never arrived in time (gaps), including
    #: slots whose frame arrived but was dropped as bad.
    lost: int = 0
    duplicates: int = 0
    #: Frames that arrived after a later seq (too late: their slot was already filled).
    out_of_order: int = 0
    #: Frames dropped for any other reason (codec mismatch, wrong size, undecodable, seq jump);
    #: for a call, also frames naming a leg the call does not have.
    bad: int = 0
    #: AudioChunks produced (always ``frames + lost`` once the call has ended).
    chunks: int = 0
    #: PCM samples produced at 16 kHz.
    samples: int = 0


#: The names of the :class:`FrameCounts` fields, for code that counts into a dict.
FRAME_COUNT_FIELDS = tuple(f.name for f in fields(FrameCounts))


@dataclass(frozen=True, slots=True, kw_only=True)
class LegStats(FrameCounts):
    """Counters of one leg of a call."""

    leg: Leg


@dataclass(frozen=True, slots=True)
class CallStats(FrameCounts):
    """Counters of a call: the sums over its legs, plus the per-leg detail."""

    #: Media duration of the longest leg in ms.
    duration_ms: int = 0
    legs: tuple[LegStats, ...] = ()

    @classmethod
    def of_legs(cls, legs: Sequence[LegStats], unknown_leg: int = 0) -> CallStats:
        """The sums over ``legs``; ``unknown_leg`` frames count as received and bad."""
        sums = {f: sum(getattr(s, f) for s in legs) for f in FRAME_COUNT_FIELDS}
        sums["received"] += unknown_leg
        sums["bad"] += unknown_leg
        duration_ms = max((s.samples for s in legs), default=0) * 1000 // PIPELINE_RATE_HZ
        return cls(**sums, duration_ms=duration_ms, legs=tuple(legs))
