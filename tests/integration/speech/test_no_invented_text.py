"""Issue 3, requirement 5: silence, line noise, ring-back, DTMF and hold music through the
production speech pipeline (Whisper base, Silero + WebRTC VAD, the recogniser's guards) give no
transcript text, on 16 kHz audio and on its G.711 mu-law 8 kHz round trip.

A short version of ``jiesu bench nonspeech`` (15 s of each kind instead of 120 s); it needs no
shared data, only the installed model packages. Behind the VAD, the recogniser's guards must
hold for partials as well as finals (the VAD bypassed, as if it had let a clip through)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jiesu.bench.nonspeech import Pcm, nonspeech_corpus
from jiesu.bench.nonspeech_bench import chunks, phone_line, run_call
from jiesu.engine.audio import Leg
from jiesu.engine.config import SpeechConfig
from jiesu.engine.eventlog import EventLog
from jiesu.engine.metrics import Metrics
from jiesu.engine.runtime import build_speech_pipeline
from jiesu.engine.speech.leg import Decode, DecodedText, LegRecognizer
from jiesu.engine.speech.pipeline import SpeechPipeline
from jiesu.engine.speech.textnorm import TextNormalizer

SECONDS_EACH = 15.0
KINDS = ("silence", "line_noise", "ring_back", "dtmf", "hold_music")


@pytest.fixture(scope="module")
def corpus() -> dict[str, Pcm]:
    clips = nonspeech_corpus(SECONDS_EACH)
    assert tuple(clips) == KINDS
    return dict(clips)


@pytest.fixture
async def production(
    tmp_path: Path,
) -> AsyncIterator[tuple[SpeechPipeline, EventLog, Metrics]]:
    event_log = EventLog(tmp_path / "events.sqlite3")
    await event_log.start()
    metrics = Metrics()
    pipeline = build_speech_pipeline(SpeechConfig(), event_log, metrics)
    try:
        yield pipeline, event_log, metrics
    finally:
        await pipeline.close()
        await event_log.close()


@pytest.mark.parametrize("channel", ["16k", "g711_8k"])
async def test_non_speech_emits_no_transcript_characters(
    production: tuple[SpeechPipeline, EventLog, Metrics],
    corpus: dict[str, Pcm],
    channel: str,
) -> None:
    pipeline, event_log, metrics = production
    emitted: dict[str, list[str]] = {}
    for kind in KINDS:
        pcm = corpus[kind]
        if channel == "g711_8k":
            pcm = phone_line(pcm)
        result = await run_call(pipeline, event_log, metrics, f"nonspeech-{kind}-{channel}", pcm)
        assert result.seconds == SECONDS_EACH
        print(f"{kind}/{channel}: {result.as_dict()}")
        if result.chars_emitted or result.partial_events or result.final_events:
            emitted[kind] = result.texts
    assert emitted == {}, f"transcript text invented on non-speech ({channel}): {emitted}"
    assert metrics.value("asr_partials_total") == 0
    assert metrics.value("asr_finals_total") == 0


def _vad_bypassed(corpus: dict[str, Pcm]) -> tuple[LegRecognizer, list[Decode]]:
    """A recogniser whose VAD calls everything speech, fed 3 s of hold music."""
    rec = LegRecognizer(
        call_id="bypass",
        leg=Leg.CALLER,
        speech_probability=lambda _pcm: 1.0,
        normalizer=TextNormalizer(),
    )
    work: list[Decode] = []
    for chunk in chunks("bypass", corpus["hold_music"][: 3 * 16000]):
        work += rec.push(chunk)
    return rec, work


# Scores Whisper base gave on these clips with the VAD bypassed (`jiesu bench nonspeech`,
# guard_probe): high no-speech probability, low average log-probability.
INVENTED = [
    DecodedText("第1名", no_speech_prob=0.677, avg_logprob=-2.614),
    DecodedText("试试", no_speech_prob=0.789, avg_logprob=-1.669),
    DecodedText("嗯嗯", no_speech_prob=0.71, avg_logprob=-2.258),
    DecodedText("谢谢观看", no_speech_prob=0.1, avg_logprob=-0.3),
]


@pytest.mark.parametrize("result", INVENTED, ids=lambda r: r.text)
def test_partials_with_invented_text_are_not_shown(
    corpus: dict[str, Pcm], result: DecodedText
) -> None:
    rec, work = _vad_bypassed(corpus)
    partials = [w for w in work if not w.final]
    assert partials, "the bypassed VAD must make the recogniser decode"
    assert all(rec.on_partial(p, result) is None for p in partials)
    final = rec.flush()[-1]
    assert rec.on_final(final, result) is None


def test_confident_partials_are_still_shown(corpus: dict[str, Pcm]) -> None:
    rec, work = _vad_bypassed(corpus)
    partial = next(w for w in work if not w.final)
    shown = rec.on_partial(partial, DecodedText("我想问一下", no_speech_prob=0.7, avg_logprob=-0.4))
    assert shown is not None and shown.text == "我想问一下"
