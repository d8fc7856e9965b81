"""Joining a continuation onto the text before it (no model): what the continuation reads
again of the head's end is dropped, text and character times alike."""

from __future__ import annotations

from jiesu.models.whisper_ct2 import AsrResult, CharTiming, _joined, repeated_overlap


def result(text: str, start_s: float = 0.0) -> AsrResult:
    visible = "".join(text.split())
    chars = tuple(
        CharTiming(c, start_s + 0.2 * i, start_s + 0.2 * (i + 1), 0.9)
        for i, c in enumerate(visible)
    )
    return AsrResult(text, (1, 2), -0.2, 0.01, "zh", 1.0, 1000, chars)


def test_a_reread_end_is_dropped_even_when_one_character_differs() -> None:
    head = result("和大家一起畅聊新消费、新科技、新趋")
    tail = result("唱聊新消费、新科技、新趋势")
    joined = _joined(head, tail, 3.0)
    assert joined.text == "和大家一起畅聊新消费、新科技、新趋势"
    assert "".join(c.char for c in joined.chars) == joined.text
    assert joined.chars[-1].start_s == 3.0 + 0.2 * 12  # the tail's 13th character, moved


def test_text_that_goes_on_is_joined_whole() -> None:
    head, tail = result("今天天气很好"), result("我们去公园吧")
    assert repeated_overlap(head.text, tail.text) == 0
    assert _joined(head, tail, 2.0).text == "今天天气很好我们去公园吧"


def test_short_or_loose_agreement_is_not_a_repeat() -> None:
    assert repeated_overlap("我们去公园", "公园里") == 0  # two characters: too short to tell
    assert repeated_overlap("一二三四五六", "一二七八九十") == 0
    assert repeated_overlap("abc one two three", "one two three four") == len("onetwothree")


def test_latin_words_keep_their_space_after_the_repeat() -> None:
    joined = _joined(result("see you at the station"), result("the station tomorrow"), 1.0)
    assert joined.text == "see you at the station tomorrow"
