"""SpeechPipeline early finals with a scripted decoder: a final decoded when the pause began is
the final when the endpoint confirms the same audio, is withdrawn when speech resumes, and is
not started while the model is behind on finals."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from jiesu.engine.audio import AudioChunk, Leg
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import TranscriptFinal
from jiesu.engine.metrics import Metrics
from jiesu.engine.speech.batcher import Priority
from jiesu.engine.speech.endpointer import EndpointerConfig
from jiesu.engine.speech.leg import Decode, DecodedText, Pcm, RecognizerConfig
from jiesu.engine.speech.pipeline import PipelineConfig, SpeechPipeline

FRAME = 320


class LengthDecoder:
    """Says how many samples it was given, so a test sees which audio made the text."""

    def __init__(self) -> None:
        self.finals: list[Decode] = []

    def __call__(self, batch: list[Decode]) -> list[DecodedText]:
        self.finals += [d for d in batch if d.final]
        return [DecodedText(f"听到{len(d.pcm)}") for d in batch]


def loud(pcm: Pcm) -> float:
    return 1.0 if np.abs(pcm).max() > 1000 else 0.0


def chunks(call_id: str, leg: Leg, pattern: str) -> list[AudioChunk]:
    return [
        AudioChunk(call_id, leg, seq, seq * 20, np.full(FRAME, 8000 if m == "S" else 0, np.int16))
        for seq, m in enumerate(pattern)
    ]


async def pipeline_for(
    tmp_path: Path, decoder: LengthDecoder
) -> tuple[SpeechPipeline, EventLog, Metrics]:
    log = EventLog(tmp_path / "events.sqlite3")
    await log.start()
    config = PipelineConfig(
        recognizer=RecognizerConfig(
            endpointer=EndpointerConfig(
                min_speech_ms=100, hangover_ms=600, early_final_ms=240, partial_interval_ms=5000
            )
        )
    )
    metrics = Metrics()
    return SpeechPipeline(decoder, lambda: loud, log, metrics, config), log, metrics


def feed(pipeline: SpeechPipeline, leg: Leg, pattern: str) -> None:
    for chunk in chunks("c1", leg, pattern):
        pipeline.audio(chunk)


async def end(pipeline: SpeechPipeline) -> None:
    await pipeline.end_call("c1")
    await pipeline.close()


async def finals_of(log: EventLog, call_id: str) -> list[str]:
    return [
        e.payload.text for e in await log.read(call_id) if isinstance(e.payload, TranscriptFinal)
    ]


@pytest.mark.asyncio
async def test_the_early_decode_is_the_final_when_the_pause_lasts(tmp_path: Path) -> None:
    decoder = LengthDecoder()
    pipeline, log, metrics = await pipeline_for(tmp_path, decoder)
    feed(pipeline, Leg.CALLER, "S" * 60 + "." * 40)
    await end(pipeline)
    # One decode for the final, and it was the early one.
    assert [d.early for d in decoder.finals] == [True]
    assert await finals_of(log, "c1") == [f"听到{len(decoder.finals[0].pcm)}"]
    assert metrics.value("asr_early_finals_total", {"outcome": "used"}) == 1
    await log.close()


@pytest.mark.asyncio
async def test_the_early_decode_is_withdrawn_when_speech_resumes(tmp_path: Path) -> None:
    decoder = LengthDecoder()
    pipeline, log, metrics = await pipeline_for(tmp_path, decoder)
    # A 300 ms pause (past the early point, short of the hangover), then more speech.
    feed(pipeline, Leg.CALLER, "S" * 60 + "." * 15 + "S" * 40 + "." * 40)
    await end(pipeline)
    assert metrics.value("asr_early_finals_total", {"outcome": "withdrawn"}) == 1
    assert metrics.value("asr_early_finals_total", {"outcome": "used"}) == 1
    # The withdrawn decode never ran (nothing awaited in between); the final covers all speech.
    assert [d.early for d in decoder.finals] == [True]
    whole = decoder.finals[0]
    assert whole.t_end == 115 * 20
    assert await finals_of(log, "c1") == [f"听到{len(whole.pcm)}"]
    await log.close()


@pytest.mark.asyncio
async def test_no_early_decode_while_a_final_waits_for_the_model(tmp_path: Path) -> None:
    decoder = LengthDecoder()
    pipeline, log, metrics = await pipeline_for(tmp_path, decoder)
    feed(pipeline, Leg.CALLER, "S" * 60 + "." * 40)
    # Let the caller's final reach the batcher's queue (one turn of the loop, no wall time).
    await asyncio.sleep(0)
    assert pipeline.batcher.waiting(Priority.FINAL) == 1
    feed(pipeline, Leg.AGENT, "S" * 60 + "." * 40)
    await end(pipeline)
    assert metrics.value("asr_early_finals_total", {"outcome": "skipped"}) == 1
    assert len(await finals_of(log, "c1")) == 2
    await log.close()
