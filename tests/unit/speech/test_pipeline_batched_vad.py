"""SpeechPipeline with the batched VAD stage (a fake loudness model in the stage's core): the
same finals as the per-leg VAD, chunks pushed in order per leg, and a chunk the stage refuses
still transcribed and counted."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from jiesu.engine.audio import AudioChunk, Leg
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import TranscriptFinal
from jiesu.engine.metrics import Metrics
from jiesu.engine.speech.endpointer import EndpointerConfig
from jiesu.engine.speech.leg import Decode, DecodedText, Pcm, RecognizerConfig
from jiesu.engine.speech.pipeline import LegKey, PipelineConfig, SpeechPipeline
from jiesu.engine.speech.vad_stage import VadBatchCore, VadStage, VadStageConfig

FRAME = 320


class LoudModel:
    """A batched 'VAD' that calls a chunk speech when it is loud."""

    def __init__(self) -> None:
        self.next = 0
        self.runs = 0

    def open_stream(self) -> int:
        self.next += 1
        return self.next

    def close_stream(self, handle: int) -> None:
        pass

    def run(self, frames: Mapping[int, Pcm]) -> dict[int, npt.NDArray[np.float32]]:
        self.runs += 1
        return {
            h: np.array([1.0 if np.abs(pcm).max() > 1000 else 0.0], np.float32)
            for h, pcm in frames.items()
        }


def loud(pcm: Pcm) -> float:
    return 1.0 if np.abs(pcm).max() > 1000 else 0.0


def length_decoder(batch: list[Decode]) -> list[DecodedText]:
    return [DecodedText(f"{d.leg.value}听到{len(d.pcm)}") for d in batch]


def chunks(leg: Leg, pattern: str, first_seq: int = 0) -> list[AudioChunk]:
    return [
        AudioChunk("c1", leg, seq, seq * 20, np.full(FRAME, 8000 if m == "S" else 0, np.int16))
        for seq, m in enumerate(pattern, start=first_seq)
    ]


async def run_call(
    tmp_path: Path, name: str, batched: bool, feed: Callable[[SpeechPipeline], None]
) -> tuple[list[str], Metrics, LoudModel]:
    log = EventLog(tmp_path / f"{name}.sqlite3")
    await log.start()
    config = PipelineConfig(
        recognizer=RecognizerConfig(
            endpointer=EndpointerConfig(
                min_speech_ms=100, hangover_ms=600, early_final_ms=0, partial_interval_ms=5000
            )
        )
    )
    model = LoudModel()

    def stage(on_probability: Callable[[LegKey, int, float], None]) -> VadStage[LegKey]:
        core: VadBatchCore[LegKey] = VadBatchCore(model, None)
        return VadStage(on_probability, VadStageConfig(tick_ms=5.0), core=core)

    metrics = Metrics()
    pipeline = SpeechPipeline(
        length_decoder, lambda: loud, log, metrics, config, vad_stage=stage if batched else None
    )
    await pipeline.start()
    feed(pipeline)
    await pipeline.end_call("c1")
    await pipeline.close()
    finals = [
        e.payload.text for e in await log.read("c1") if isinstance(e.payload, TranscriptFinal)
    ]
    await log.close()
    return finals, metrics, model


def two_legs(pipeline: SpeechPipeline) -> None:
    caller = chunks(Leg.CALLER, "S" * 30 + "." * 40 + "S" * 50 + "." * 40)
    agent = chunks(Leg.AGENT, "." * 20 + "S" * 70 + "." * 70)
    for a, b in zip(caller, agent, strict=True):
        pipeline.audio(a)
        pipeline.audio(b)


@pytest.mark.asyncio
async def test_batched_vad_gives_the_finals_of_the_per_leg_vad(tmp_path: Path) -> None:
    per_leg, _, _ = await run_call(tmp_path, "per-leg", False, two_legs)
    batched, metrics, model = await run_call(tmp_path, "batched", True, two_legs)
    assert len(per_leg) == 3
    assert sorted(batched) == sorted(per_leg)
    assert model.runs > 0 and metrics.value("asr_vad_refused_total") == 0


@pytest.mark.asyncio
async def test_a_chunk_the_stage_refuses_is_still_transcribed_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def with_gap(pipeline: SpeechPipeline) -> None:
        for chunk in chunks(Leg.CALLER, "S" * 30):
            pipeline.audio(chunk)
        # A door that broke the contract: seq jumps; the stage refuses these chunks.
        for chunk in chunks(Leg.CALLER, "S" * 20 + "." * 40, first_seq=100):
            pipeline.audio(chunk)

    finals, metrics, _ = await run_call(tmp_path, "gap", True, with_gap)
    assert metrics.value("asr_vad_refused_total") == 60
    assert sum("refused a chunk" in r.message for r in caplog.records) == 1  # no log flood
    # All 50 speech chunks reached the recogniser, in order, as one utterance.
    assert len(finals) == 1 and int(finals[0].split("听到")[1]) >= 50 * FRAME


@pytest.mark.asyncio
async def test_audio_before_start_is_an_error_with_a_batched_vad(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "e.sqlite3")
    await log.start()

    def stage(on_probability: Callable[[LegKey, int, float], None]) -> VadStage[LegKey]:
        return VadStage(on_probability, core=VadBatchCore(LoudModel(), None))

    pipeline = SpeechPipeline(length_decoder, lambda: loud, log, Metrics(), vad_stage=stage)
    with pytest.raises(RuntimeError, match="start"):
        pipeline.audio(chunks(Leg.CALLER, "S")[0])
    await pipeline.start()
    await pipeline.close()
    await log.close()
