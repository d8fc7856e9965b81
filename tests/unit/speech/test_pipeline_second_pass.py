"""SpeechPipeline with a scripted decoder: the hotword second pass is run, and kept only when
it brings a prompted hotword; the transcript keeps its order either way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jiesu.engine.audio import AudioChunk, Leg
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import TranscriptFinal
from jiesu.engine.metrics import Metrics
from jiesu.engine.speech.endpointer import EndpointerConfig
from jiesu.engine.speech.leg import Decode, DecodedText, Pcm, RecognizerConfig
from jiesu.engine.speech.pipeline import PipelineConfig, SpeechPipeline

FRAME = 320


class ScriptedDecoder:
    """Says ``first`` unprompted and ``second`` when prompted; records every batch."""

    def __init__(self, first: str, second: str) -> None:
        self.first, self.second = first, second
        self.prompts: list[str] = []

    def __call__(self, batch: list[Decode]) -> list[DecodedText]:
        out = []
        for decode in batch:
            if decode.final:
                self.prompts.append(decode.prompt)
            out.append(DecodedText(self.second if decode.prompt else self.first))
        return out


def loud(pcm: Pcm) -> float:
    return 1.0 if np.abs(pcm).max() > 1000 else 0.0


async def run_call(tmp_path: Path, decoder: ScriptedDecoder) -> tuple[list[str], Metrics]:
    log = EventLog(tmp_path / "events.sqlite3")
    await log.start()
    metrics = Metrics()
    config = PipelineConfig(
        recognizer=RecognizerConfig(
            endpointer=EndpointerConfig(
                min_speech_ms=100, hangover_ms=300, partial_interval_ms=5000
            )
        ),
        hotwords=("社保缴费", "居住证"),
    )
    pipeline = SpeechPipeline(decoder, lambda: loud, log, metrics, config)
    pattern = "S" * 60 + "." * 30
    for seq, mark in enumerate(pattern):
        pcm = np.full(FRAME, 8000 if mark == "S" else 0, dtype=np.int16)
        pipeline.audio(AudioChunk("call-1", Leg.CALLER, seq, seq * 20, pcm))
    await pipeline.end_call("call-1")
    await pipeline.close()
    events = await log.read("call-1")
    await log.close()
    return [e.payload.text for e in events if isinstance(e.payload, TranscriptFinal)], metrics


@pytest.mark.asyncio
async def test_second_pass_with_the_suspected_hotword_is_kept(tmp_path: Path) -> None:
    decoder = ScriptedDecoder("我想问一下射爆角飞怎么交", "我想问一下社保缴费怎么交")
    finals, metrics = await run_call(tmp_path, decoder)
    assert finals == ["我想问一下社保缴费怎么交"]
    assert decoder.prompts[0] == "" and "社保缴费" in decoder.prompts[1]
    assert metrics.value("asr_final_second_passes_total", {"kept": "True"}) == 1


@pytest.mark.asyncio
async def test_second_pass_that_does_not_bring_the_hotword_is_dropped(tmp_path: Path) -> None:
    decoder = ScriptedDecoder("我想问一下射爆角飞怎么交", "我想问一下射爆脚费怎么教")
    finals, metrics = await run_call(tmp_path, decoder)
    assert finals == ["我想问一下射爆角飞怎么交"]
    assert len(decoder.prompts) == 2
    assert metrics.value("asr_final_second_passes_total", {"kept": "False"}) == 1


@pytest.mark.asyncio
async def test_no_second_pass_when_nothing_sounds_like_a_hotword(tmp_path: Path) -> None:
    decoder = ScriptedDecoder("今天天气很好", "不该用到")
    finals, _ = await run_call(tmp_path, decoder)
    assert finals == ["今天天气很好"] and decoder.prompts == [""]
