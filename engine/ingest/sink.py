"""The output contract of the ingest: where calls and their audio go.

The ingest calls a sink in this order for each call: ``call_started`` (awaited before the client
is told ``started``), then ``audio`` for every chunk of every leg (per leg in ``seq`` order, no
gaps), then ``call_ended`` exactly once (awaited before the client is told ``stopped``; also on a
dropped connection or server shutdown).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from jiesu.engine.audio import AudioChunk, Leg
from jiesu.engine.events import CallMode
from jiesu.engine.ingest.protocol import CallStats


@dataclass(frozen=True, slots=True)
class IngestCall:
    """A call opened on the ingest. Holds no personal data in clear."""

    call_id: str
    hotline: str
    agent_id: str
    mode: CallMode
    legs: tuple[Leg, ...]
    #: The codec and PCM rate the client sends; chunks reach the sink at 16 kHz regardless.
    codec: str
    rate: int
    #: The caller's number masked with :func:`jiesu.engine.privacy.mask_phone`.
    caller_masked: str
    ptime_ms: int = 20
    #: ``sub`` of the ingest token that opened the call (which connector or client).
    source: str = ""
    #: Keyed hash of the caller's number (:class:`jiesu.engine.storage.keys.CallerKeyer`), to
    #: find their past tickets; not reversible without the key. Empty when unknown.
    caller_key: str = ""


class IngestSink(Protocol):
    """Receives calls and audio from the ingest (production: ``jiesu serve``; tests: a recorder)."""

    async def call_started(self, call: IngestCall) -> None:
        """A call was opened. Raising refuses the call (the client gets ``sink_error``)."""

    def audio(self, chunk: AudioChunk) -> None:
        """One chunk (16 kHz int16, read-only array). Must not block: the sink applies its own
        bounded-queue policy. An exception is logged and counted, never passed to the client."""

    async def call_ended(self, call_id: str, reason: str, stats: CallStats) -> None:
        """The call ended; every chunk of it has been delivered before this is called."""
