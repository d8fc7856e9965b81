"""The diarizer's I/O edge: ``Leg.MIXED`` chunks of every call in, ``speaker.turn`` events out.

One :class:`~jiesu.engine.diarize.online.OnlineDiarizer` per call, fed by one worker task per
call through a bounded queue; the CPU work (VAD, CAM++) runs in a thread so the event loop
never waits on it. Queue policy: when a call's backlog is full (``max_backlog`` chunks) the
new chunk is not queued but counted (``diarize_chunks_dropped_total``); the next queued chunk
(or the end of the call) carries the gap, which the worker feeds as silence of the same length
in its place, so media times stay right and memory bounded.
Chunks not at the pipeline rate are refused and counted (``diarize_chunks_bad_total``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from jiesu.engine.audio import PIPELINE_RATE_HZ, AudioChunk, Leg
from jiesu.engine.diarize.online import DiarizedTurn, OnlineDiarizer
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import Payload
from jiesu.engine.metrics import Metrics

__all__ = ["DiarizationService", "build_diarization"]

log = logging.getLogger(__name__)


@dataclass
class _Call:
    diarizer: OnlineDiarizer
    #: Media time of the call's first mixed chunk: diarizer times are relative to it.
    base_ms: int
    #: (samples dropped just before, chunk); ``None`` ends the call.
    queue: asyncio.Queue[tuple[int, AudioChunk | None]]
    lost_samples: int = 0
    task: asyncio.Task[None] | None = field(default=None)


class DiarizationService:
    """Diarizes the mixed leg of every call into the event log."""

    def __init__(
        self,
        event_log: EventLog,
        metrics: Metrics,
        factory: Callable[[], OnlineDiarizer],
        max_backlog: int = 500,
    ) -> None:
        self._log = event_log
        self._metrics = metrics
        self._factory = factory
        self._max_backlog = max_backlog
        self._calls: dict[str, _Call] = {}

    def audio(self, chunk: AudioChunk) -> None:
        """Queue one chunk of a mixed leg (others are ignored); never blocks."""
        if chunk.leg is not Leg.MIXED:
            return
        if chunk.rate != PIPELINE_RATE_HZ:
            self._metrics.inc("diarize_chunks_bad_total")
            log.warning("diarize: chunk at %d Hz refused (needs %d)", chunk.rate, PIPELINE_RATE_HZ)
            return
        call = self._calls.get(chunk.call_id)
        if call is None:
            queue: asyncio.Queue[tuple[int, AudioChunk | None]] = asyncio.Queue(self._max_backlog)
            call = _Call(self._factory(), chunk.t_media_ms, queue)
            call.task = asyncio.get_running_loop().create_task(self._work(chunk.call_id, call))
            self._calls[chunk.call_id] = call
        try:
            call.queue.put_nowait((call.lost_samples, chunk))
        except asyncio.QueueFull:
            call.lost_samples += len(chunk.pcm)
            self._metrics.inc("diarize_chunks_dropped_total")
        else:
            call.lost_samples = 0

    async def end_call(self, call_id: str) -> None:
        """Flush the call's diarizer; its last turns are in the log when this returns."""
        call = self._calls.pop(call_id, None)
        if call is None or call.task is None:
            return
        await call.queue.put((call.lost_samples, None))
        await call.task

    async def close(self) -> None:
        for call_id in list(self._calls):
            await self.end_call(call_id)

    async def _work(self, call_id: str, call: _Call) -> None:
        while True:
            gap, chunk = await call.queue.get()
            # Dropped chunks come back as silence, so later times stay aligned.
            silence = np.zeros(gap, dtype=np.int16)
            if chunk is None:
                turns = await asyncio.to_thread(call.diarizer.feed, silence) if gap else []
                turns += await asyncio.to_thread(call.diarizer.flush)
                await self._publish(call_id, call, turns)
                return
            pcm = np.concatenate([silence, chunk.pcm]) if gap else chunk.pcm
            try:
                turns = await asyncio.to_thread(call.diarizer.feed, pcm)
            except ValueError as exc:
                self._metrics.inc("diarize_chunks_bad_total")
                log.warning("diarize: chunk refused: %s", exc)
                continue
            await self._publish(call_id, call, turns)

    async def _publish(self, call_id: str, call: _Call, turns: list[DiarizedTurn]) -> None:
        if not turns:
            return
        items: list[tuple[int, Payload]] = []
        for t in turns:
            moved = DiarizedTurn(
                t.speaker, t.t_start_ms + call.base_ms, t.t_end_ms + call.base_ms, t.t_emit_ms
            )
            items.append((moved.t_end_ms, moved.event(Leg.MIXED)))
        await self._log.append_many(call_id, items)
        self._metrics.inc("diarize_turns_total", len(items))


def build_diarization(event_log: EventLog, metrics: Metrics) -> DiarizationService:
    """The production service: Silero VAD and one shared CAM++ model (``[diarization]`` extra)."""
    from jiesu.models.speaker_embedding import CamPlusPlus
    from jiesu.models.vad import SileroVad, SileroVadModel

    vad_model = SileroVadModel()
    embedder = CamPlusPlus(threads=1)

    def factory() -> OnlineDiarizer:
        return OnlineDiarizer(SileroVad(vad_model), embedder)

    return DiarizationService(event_log, metrics, factory)
