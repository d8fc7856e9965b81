"""LegRecognizer: what gets decoded when, and what reaches the transcript."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from jiesu.engine.audio import AudioChunk, Leg
from jiesu.engine.events import TimedToken
from jiesu.engine.speech.endpointer import EndpointerConfig
from jiesu.engine.speech.hotwords import HotwordCorrector
from jiesu.engine.speech.leg import (
    Decode,
    DecodedText,
    LegRecognizer,
    RecognizerConfig,
    map_timings,
    same_audio,
)
from jiesu.engine.speech.textnorm import TextNormalizer

FRAME = 320  # 20 ms at 16 kHz


def chunks(pattern: str, first_seq: int = 0) -> Iterator[AudioChunk]:
    """One 20 ms chunk per character: 'S' speech (loud), '.' silence; sample 0 holds the seq."""
    for seq, mark in enumerate(pattern, start=first_seq):
        level = 8000 if mark == "S" else 0
        pcm = np.full(FRAME, level, dtype=np.int16)
        pcm[0] = seq  # lets a test find which chunks a decode was given
        yield AudioChunk("call-1", Leg.CALLER, seq, seq * 20, pcm)


def recognizer(hotwords: tuple[str, ...] = (), prompts: bool = False) -> LegRecognizer:
    return LegRecognizer(
        call_id="call-1",
        leg=Leg.CALLER,
        speech_probability=lambda pcm: 1.0 if pcm[1:].any() else 0.0,
        normalizer=TextNormalizer(),
        hotwords=HotwordCorrector(hotwords) if hotwords else None,
        hotword_prompt=hotwords,
        config=RecognizerConfig(
            endpointer=EndpointerConfig(
                min_speech_ms=100, hangover_ms=300, partial_interval_ms=500
            ),
            preroll_ms=100,
            prompt_history_chars=60 if prompts else 0,
            prompt_hotwords=prompts,
        ),
    )


def run(rec: LegRecognizer, pattern: str, first_seq: int = 0) -> list[Decode]:
    work: list[Decode] = []
    for chunk in chunks(pattern, first_seq):
        work += rec.push(chunk)
    return work


def test_silence_and_clicks_are_never_decoded() -> None:
    rec = recognizer()
    assert run(rec, "." * 500 + "SS" + "." * 100 + "S" + "." * 200) == []
    assert rec.flush() == []


def test_speech_gives_partials_then_one_final_with_its_audio() -> None:
    rec = recognizer()
    work = run(rec, "." * 50 + "S" * 100 + "." * 50)
    partials = [w for w in work if not w.final]
    finals = [w for w in work if w.final and not w.early]
    assert len(finals) == 1 and len(partials) >= 3
    final = finals[0]
    assert final.utterance_id == "caller-1"
    assert 1000 - 20 <= final.t_start <= 1000 + 100
    # the final carries the utterance's audio from its pre-roll to its end, in order
    first_seq = int(final.pcm[0])
    assert first_seq * 20 == final.t_start - 100
    assert len(final.pcm) == (final.t_end - final.t_start + 100) * 16
    assert all(p.revision == i + 1 for i, p in enumerate(partials))
    assert all(p.t_end <= final.t_end for p in partials)


def test_two_utterances_have_their_own_ids_and_prompts_carry_history() -> None:
    rec = recognizer(hotwords=("社保缴费",), prompts=True)
    work = run(rec, "S" * 60 + "." * 40 + "S" * 60 + "." * 40)
    finals = [w for w in work if w.final and not w.early]
    assert [f.utterance_id for f in finals] == ["caller-1", "caller-2"]
    assert finals[0].prompt.startswith("社保缴费")
    payload = rec.on_final(finals[0], DecodedText("我想问一下射爆脚费"))
    assert payload is not None and payload.text == "我想问一下社保缴费"
    # the next utterance's decode is prompted with what was said before
    later = run(rec, "S" * 60 + "." * 40, first_seq=200)
    assert "我想问一下社保缴费" in next(w for w in later if w.final and not w.early).prompt


def test_prompts_are_off_by_default_but_correction_stays_on() -> None:
    rec = recognizer(hotwords=("社保缴费",))
    finals = [
        w for w in run(rec, "S" * 60 + "." * 40 + "S" * 60 + "." * 40) if w.final and not w.early
    ]
    assert [f.prompt for f in finals] == ["", ""]
    payload = rec.on_final(finals[0], DecodedText("我想问一下射爆脚费"))
    assert payload is not None and payload.text == "我想问一下社保缴费"


def test_final_text_is_simplified_and_normalised() -> None:
    rec = recognizer()
    final = next(w for w in run(rec, "S" * 60 + "." * 40) if w.final and not w.early)
    payload = rec.on_final(final, DecodedText("我的電話是幺三八一二三四五六七八"))
    assert payload is not None
    assert payload.text.startswith("我的电话是13812345678")
    assert payload.leg is Leg.CALLER and payload.t_start == final.t_start


def timed(text: str, start: int = 0, step: int = 100) -> tuple[TimedToken, ...]:
    return tuple(
        TimedToken(ch, start + i * step, start + (i + 1) * step, 0.9) for i, ch in enumerate(text)
    )


def test_final_characters_carry_the_models_times_through_normalisation() -> None:
    rec = recognizer()
    final = next(w for w in run(rec, "S" * 60 + "." * 40) if w.final and not w.early)
    raw = "我的電話是幺三八"
    payload = rec.on_final(final, DecodedText(raw, chars=timed(raw, 10)))
    assert payload is not None and payload.text == "我的电话是138"
    begin = max(0, final.t_start - 100)  # the decode's audio starts one pre-roll early
    assert [t.text for t in payload.tokens] == list("我的电话是138")
    # kept characters (traditional -> simplified too) keep their own times
    assert [(t.t_start, t.t_end) for t in payload.tokens[:5]] == [
        (begin + 10 + i * 100, begin + 110 + i * 100) for i in range(5)
    ]
    # digits written for 幺三八 share the time of the words they replace
    assert payload.tokens[5].t_start == begin + 510 and payload.tokens[7].t_end == begin + 810


def test_map_timings_inserted_punctuation_sits_at_the_previous_end_and_clamps() -> None:
    tokens = map_timings("你好，请讲", timed("你好请讲", 0, 300), t_end=1000)
    assert [t.text for t in tokens] == list("你好，请讲")
    assert tokens[2].t_start == tokens[2].t_end == 600  # the comma takes no time
    assert tokens[-1].t_end == 1000  # never past the utterance's end
    assert [t.t_start for t in tokens] == sorted(t.t_start for t in tokens)


def test_final_reports_the_language_the_model_heard() -> None:
    rec = recognizer()
    final = next(w for w in run(rec, "S" * 60 + "." * 40) if w.final and not w.early)
    english = rec.on_final(final, DecodedText("hello there", language="en"))
    assert english is not None and english.language == "en"
    unknown = rec.on_final(final, DecodedText("你好"))
    assert unknown is not None and unknown.language == "zh"


def test_second_pass_is_asked_for_sound_alikes_and_kept_only_when_it_helps() -> None:
    rec = recognizer(hotwords=("社保缴费", "居住证"))
    final = next(w for w in run(rec, "S" * 60 + "." * 40) if w.final and not w.early)
    first = DecodedText("我想问一下射爆角飞怎么交")
    again = rec.second_pass(final, first)
    assert again is not None and again.final and again.utterance_id == final.utterance_id
    assert "社保缴费" in again.prompt and "居住证" not in again.prompt
    assert np.array_equal(again.pcm, final.pcm)
    assert rec.second_pass(again, first) is None  # never a third decode
    assert rec.keeps_second_pass(again, DecodedText("我想问一下社保缴费怎么交"))
    assert not rec.keeps_second_pass(again, DecodedText("我想问一下射爆脚费怎么交"))
    # nothing that sounds like a hotword, or an invented result: no second pass
    assert rec.second_pass(final, DecodedText("今天天气很好")) is None
    assert (
        rec.second_pass(final, DecodedText("射爆角飞", no_speech_prob=0.9, avg_logprob=-2)) is None
    )


def test_second_pass_can_be_switched_off() -> None:
    rec = recognizer(hotwords=("社保缴费",))
    rec.config = RecognizerConfig(hotword_second_pass=False)
    final = next(w for w in run(rec, "S" * 60 + "." * 40) if w.final and not w.early)
    assert rec.second_pass(final, DecodedText("我想问一下射爆角飞怎么交")) is None


def test_final_without_model_times_has_no_tokens() -> None:
    rec = recognizer()
    final = next(w for w in run(rec, "S" * 60 + "." * 40) if w.final and not w.early)
    payload = rec.on_final(final, DecodedText("你好"))
    assert payload is not None and payload.tokens == ()


@pytest.mark.parametrize(
    "result",
    [
        DecodedText("谢谢观看", no_speech_prob=0.1, avg_logprob=-0.2),
        DecodedText("第1名", no_speech_prob=0.9, avg_logprob=-1.5),
        DecodedText("\ufffd  ", no_speech_prob=0.1, avg_logprob=-0.2),
    ],
)
def test_invented_text_is_dropped_and_counted(result: DecodedText) -> None:
    rec = recognizer()
    final = next(w for w in run(rec, "S" * 60 + "." * 40) if w.final and not w.early)
    assert rec.on_final(final, result) is None
    assert rec.dropped_finals == 1


def test_stale_partials_are_ignored() -> None:
    rec = recognizer()
    work = run(rec, "S" * 80)
    first, second = work[0], work[1]
    assert rec.on_partial(second, DecodedText("我想问")) is not None
    assert rec.on_partial(first, DecodedText("我")) is None  # older revision came late
    end = rec.flush()
    assert [w.final for w in end] == [True]
    assert rec.on_partial(second, DecodedText("我想问一下")) is None  # utterance is final


def test_partial_reports_stable_prefix_and_drops_broken_characters() -> None:
    rec = recognizer()
    partials = [w for w in run(rec, "S" * 100) if not w.final]
    first = rec.on_partial(partials[0], DecodedText("我想问\ufffd"))
    second = rec.on_partial(partials[1], DecodedText("我想问一下社保"))
    assert first is not None and "\ufffd" not in first.text
    assert second is not None and second.text.startswith("我想问")
    assert second.stable_chars >= 3


def test_buffer_stays_bounded_on_a_long_silent_leg() -> None:
    rec = recognizer()
    run(rec, "." * 5000)
    assert len(rec._chunks) < 100


@pytest.mark.parametrize("chunk_ms", [100, 30, 500])
def test_chunks_of_any_length_give_the_same_utterances_as_20_ms_frames(chunk_ms: int) -> None:
    """The endpointer counts 20 ms frames: a door that sends 100 ms chunks must not stretch the
    hangover five times (two turns 2 s apart would become one final)."""
    pattern = "." * 25 + "S" * 80 + "." * 100 + "S" * 60 + "." * 60

    def level_recognizer() -> LegRecognizer:
        rec = recognizer()
        rec.speech_probability = lambda pcm: 1.0 if (pcm > 4000).any() else 0.0
        return rec

    samples = np.concatenate([c.pcm for c in chunks(pattern)])
    framewise = level_recognizer()
    expected = [w for c in chunks(pattern) for w in framewise.push(c)] + framewise.flush()
    joined = level_recognizer()
    size = chunk_ms * 16
    got: list[Decode] = []
    for seq, start in enumerate(range(0, len(samples), size)):
        piece = samples[start : start + size]
        got += joined.push(AudioChunk("call-1", Leg.CALLER, seq, start // 16, piece))
    got += joined.flush()

    def shape(work: list[Decode]) -> list[tuple[bool, int, int, int]]:
        return [(w.final, w.t_start, w.t_end, len(w.pcm)) for w in work]

    finals = [w for w in expected if w.final and not w.early]
    assert len(finals) == 2
    # Partials fall due at frame times inside a chunk; finals must be the same.
    assert shape([w for w in got if w.final and not w.early]) == shape(finals)
    for mine, theirs in zip([w for w in got if w.final and not w.early], finals, strict=True):
        assert np.array_equal(mine.pcm, theirs.pcm)


def test_early_final_has_the_audio_of_the_final_that_confirms_it() -> None:
    rec = recognizer()  # hangover 300 ms, early finals at 250 ms (the default)
    work = run(rec, "." * 50 + "S" * 100 + "." * 13)  # 260 ms of pause
    early = [w for w in work if w.early]
    assert len(early) == 1 and early[0].final
    assert rec.still_paused(early[0])
    work = run(rec, "." * 10, first_seq=163)
    final = next(w for w in work if w.final)
    assert not final.early and same_audio(early[0], final)
    assert np.array_equal(early[0].pcm, final.pcm)
    assert not rec.still_paused(early[0])  # the utterance is over


def test_early_final_is_no_longer_paused_once_speech_resumes() -> None:
    rec = recognizer()
    early = next(w for w in run(rec, "." * 50 + "S" * 100 + "." * 13) if w.early)
    run(rec, "S" * 5, first_seq=163)
    assert not rec.still_paused(early)
    final = next(w for w in run(rec, "S" * 20 + "." * 20, first_seq=168) if w.final and not w.early)
    assert final.t_end > early.t_end and not same_audio(early, final)
