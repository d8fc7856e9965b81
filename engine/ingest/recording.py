"""An :class:`~jiesu.engine.calls.IngestSink` that keeps what it receives in memory and checks the contract.

For tests, the demo and the benchmarks: it records calls, chunks (with their arrival time) and
ends; ``call_ended`` of a call can be awaited; breaches of the sink contract (audio before
``call_started`` or after ``call_ended``, a chunk ``seq`` out of step, a second ``call_ended``)
are collected in :attr:`RecordingSink.violations` instead of raising into the ingest.
Memory grows with the audio received (``keep_audio=False`` keeps counts only).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from jiesu.engine.audio import AudioChunk, Leg
from jiesu.engine.calls import CallStats, IngestCall


@dataclass(frozen=True, slots=True)
class EndedCall:
    reason: str
    stats: CallStats
    #: Chunks of the call the sink had received when ``call_ended`` came.
    chunks_received: int


class RecordingSink:
    """Records every call, chunk and end; see the module docstring."""

    def __init__(
        self, *, keep_audio: bool = True, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.keep_audio = keep_audio
        self._clock = clock
        self.started: dict[str, IngestCall] = {}
        self.ended: dict[str, EndedCall] = {}
        #: Every chunk received, in order (empty with ``keep_audio=False``).
        self.chunks: list[AudioChunk] = []
        #: Clock reading at each chunk's arrival, parallel to :attr:`chunks`.
        self.arrival: list[float] = []
        self.chunk_counts: dict[str, int] = {}
        self.violations: list[str] = []
        #: Set to make the next ``call_started`` raise (the ingest must refuse the call).
        self.fail_start = False
        #: Set to make every ``audio`` raise (the ingest must count it and go on).
        self.fail_audio = False
        self._next_seq: dict[tuple[str, Leg], int] = {}
        self._ended_events: dict[str, asyncio.Event] = {}

    async def call_started(self, call: IngestCall) -> None:
        if self.fail_start:
            raise RuntimeError("recording sink told to refuse calls")
        if call.call_id in self.started and call.call_id not in self.ended:
            self.violations.append(f"call_started twice for {call.call_id}")
        self.started[call.call_id] = call
        self.ended.pop(call.call_id, None)
        self._ended_events.pop(call.call_id, None)
        self.chunk_counts[call.call_id] = 0
        for leg in call.legs:
            self._next_seq[(call.call_id, leg)] = 0

    def audio(self, chunk: AudioChunk) -> None:
        key = (chunk.call_id, chunk.leg)
        if chunk.call_id not in self.started or chunk.call_id in self.ended:
            self.violations.append(f"audio outside call {chunk.call_id} seq {chunk.seq}")
        elif self._next_seq.get(key, 0) != chunk.seq:  # a leg that joins later starts at 0
            expected = self._next_seq.get(key)
            self.violations.append(
                f"{chunk.call_id}/{chunk.leg.value}: seq {chunk.seq}, expected {expected}"
            )
        self._next_seq[key] = chunk.seq + 1
        self.chunk_counts[chunk.call_id] = self.chunk_counts.get(chunk.call_id, 0) + 1
        if self.keep_audio:
            self.chunks.append(chunk)
            self.arrival.append(self._clock())
        if self.fail_audio:
            raise RuntimeError("recording sink told to fail on audio")

    async def call_ended(self, call_id: str, reason: str, stats: CallStats) -> None:
        if call_id not in self.started:
            self.violations.append(f"call_ended for unknown call {call_id}")
        if call_id in self.ended:
            self.violations.append(f"call_ended twice for {call_id}")
        self.ended[call_id] = EndedCall(reason, stats, self.chunk_counts.get(call_id, 0))
        self._event(call_id).set()

    async def wait_ended(self, call_id: str, timeout_s: float = 10.0) -> EndedCall:
        """Wait for ``call_ended`` of ``call_id`` (TimeoutError after ``timeout_s``)."""
        await asyncio.wait_for(self._event(call_id).wait(), timeout_s)
        return self.ended[call_id]

    def leg_chunks(self, call_id: str, leg: Leg) -> list[AudioChunk]:
        return [c for c in self.chunks if c.call_id == call_id and c.leg is leg]

    def leg_pcm(self, call_id: str, leg: Leg) -> npt.NDArray[np.int16]:
        """All PCM of one leg, chunks joined in order."""
        chunks = self.leg_chunks(call_id, leg)
        if not chunks:
            return np.zeros(0, np.int16)
        return np.concatenate([c.pcm for c in chunks])

    def _event(self, call_id: str) -> asyncio.Event:
        return self._ended_events.setdefault(call_id, asyncio.Event())
