"""Pinyin hotword correction (positive and negative cases) and Whisper prompt building."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jiesu.engine.speech.hotwords import (
    HotwordCorrector,
    build_prompt,
    char_similarity,
    fuzzy_syllable,
    readings,
    suspects,
)

HOTWORDS = ["社保缴费", "公积金提取", "居住证", "武侯区", "市场监管局", "锦江区", "春熙路"]


@pytest.fixture(scope="module")
def corrector() -> HotwordCorrector:
    return HotwordCorrector(HOTWORDS)


@pytest.mark.parametrize(
    ("syllable", "fuzzy"),
    [
        ("zhang", ("z", "an")),
        ("zan", ("z", "an")),
        ("shi", ("s", "i")),
        ("chen", ("c", "en")),
        ("ceng", ("c", "en")),
        ("nin", ("l", "in")),
        ("ling", ("l", "in")),
        ("fei", ("h", "ei")),
        ("huang", ("h", "uan")),
        ("er", ("", "er")),
    ],
)
def test_fuzzy_syllable(syllable: str, fuzzy: tuple[str, str]) -> None:
    assert fuzzy_syllable(syllable) == fuzzy


def test_char_similarity_weights() -> None:
    assert char_similarity(readings("射"), readings("社")) == 1.0
    assert char_similarity(readings("正"), readings("证")) == 1.0
    assert char_similarity(readings("包"), readings("高")) == pytest.approx(0.6)  # final ao
    assert char_similarity(readings("保"), readings("班")) == pytest.approx(0.4)  # initial b
    assert char_similarity(readings("我"), readings("费")) == 0.0
    # A heteronym matches on any of its readings: 行 is hang in 银行.
    assert char_similarity(readings("行"), readings("杭")) == 1.0


POSITIVE = [
    ("我想问一下射爆脚费的事", "我想问一下社保缴费的事"),  # the real error
    ("我要办理公积金题取", "我要办理公积金提取"),
    ("我要办居住正", "我要办居住证"),
    ("市场建管局", "市场监管局"),  # j: jian vs jian, the one real change
    ("在锦将区", "在锦江区"),  # jiang/jiang exact
    ("去春稀路", "去春熙路"),
    ("社保交费怎么弄", "社保缴费怎么弄"),
    ("射保缴费和居住正", "社保缴费和居住证"),
]


@pytest.mark.parametrize(("heard", "fixed"), POSITIVE)
def test_sound_alikes_are_corrected(corrector: HotwordCorrector, heard: str, fixed: str) -> None:
    result = corrector.correct(heard)
    assert result.text == fixed
    assert result.corrections
    for c in result.corrections:
        assert heard[c.start : c.end] == c.original
        assert c.replacement in HOTWORDS


NEGATIVE = [
    "我午后去办",  # wu hou qu, but no character in common with 武侯区
    "居住在这里",  # zai is not zheng
    "社会保险怎么交",
    "社保缴费怎么交",  # already right
    "我要提取公积金",
    "你好请问有什么可以帮您",
    "我家住在春天花园",
    "公积金提取和社保缴费",
    "",
    "hello world",
]


@pytest.mark.parametrize("text", NEGATIVE)
def test_no_false_positives(corrector: HotwordCorrector, text: str) -> None:
    result = corrector.correct(text)
    assert result.text == text
    assert result.corrections == ()


def test_fuzzy_initials_and_finals_count(corrector: HotwordCorrector) -> None:
    # zh->z and eng->en: 居住怎 (zen) for 居住证 (zheng).
    assert corrector.correct("办居住怎").text == "办居住证"
    # Without the fuzzy merges this would be a partial match and rejected.
    assert corrector.similarity("居住怎", "居住证") == 1.0


def test_threshold_is_respected() -> None:
    strict = HotwordCorrector(["社保缴费"], threshold=1.0)
    assert strict.correct("射爆脚费").text == "社保缴费"
    # 标 (biao) for 缴 (jiao) matches only the final: (3 + 0.6) / 4 = 0.9.
    assert strict.correct("社保标费").text == "社保标费"
    assert HotwordCorrector(["社保缴费"], threshold=0.9).correct("社保标费").text == "社保缴费"
    # 包 (bao) shares neither initial nor final with 缴 (jiao): 3 / 4 = 0.75.
    assert HotwordCorrector(["社保缴费"], threshold=0.9).correct("社保包费").text == "社保包费"


def test_min_same_chars_guard_can_be_relaxed() -> None:
    assert HotwordCorrector(["武侯区"], min_same_chars=0).correct("我午后去办").text == "我武侯区办"


def test_non_chinese_hotwords_are_ignored() -> None:
    assert HotwordCorrector(["APP", "社"]).hotwords == ()


def test_bad_threshold() -> None:
    with pytest.raises(ValueError):
        HotwordCorrector(HOTWORDS, threshold=0.0)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=list("社保缴费射爆脚居住证正在我要办的"), max_size=16))
def test_correction_keeps_length_and_is_stable(text: str) -> None:
    corrector = HotwordCorrector(["社保缴费", "居住证"])
    once = corrector.correct(text)
    assert len(once.text) == len(text)  # replacements always have the window's length
    assert corrector.correct(once.text).text == once.text


# --- prompts -------------------------------------------------------------------------------


def test_prompt_has_hotwords_then_recent_text() -> None:
    prompt = build_prompt(["社保缴费", "居住证"], "你好，请问有什么可以帮您", 100)
    assert prompt == "社保缴费，居住证。你好，请问有什么可以帮您"


@pytest.mark.parametrize("max_chars", [0, 1, 5, 9, 12, 20, 33])
def test_prompt_respects_budget(max_chars: int) -> None:
    words = ["社保缴费", "公积金提取", "居住证", "市场监管局"]
    previous = "我上个月的社保缴费没有扣款，想问一下是怎么回事"
    prompt = build_prompt(words, previous, max_chars)
    assert len(prompt) <= max_chars
    # The previous text is represented by its end (most recent words), never its middle.
    tail = prompt.split("。", 1)[-1] if "。" in prompt else prompt
    assert previous.endswith(tail)


def test_prompt_keeps_whole_words_and_drops_duplicates() -> None:
    prompt = build_prompt(["社保缴费", "社保缴费", "公积金提取"], "", 12)
    assert prompt == "社保缴费，公积金提取。"


def test_prompt_gives_previous_text_half_the_budget() -> None:
    previous = "一二三四五六七八九十"
    prompt = build_prompt(["社保缴费", "公积金提取", "居住证"], previous, 16)
    assert prompt.endswith("六七八九十") or prompt.endswith(previous[-8:])
    assert len(prompt) <= 16
    assert prompt.startswith("社保缴费")


def test_suspects_are_sound_alikes_the_correction_did_not_dare_to_fix(
    corrector: HotwordCorrector,
) -> None:
    # No shared character, so correction leaves it; it sounds like 社保缴费, so it is a suspect.
    assert corrector.correct("我想问一下射爆角飞怎么交").text == "我想问一下射爆角飞怎么交"
    assert suspects(corrector, "我想问一下射爆角飞怎么交") == ("社保缴费",)
    assert suspects(corrector, "攻击肩体取需要带什么材料")[0] == "公积金提取"


def test_no_suspects_in_ordinary_speech_or_where_the_hotword_is_right(
    corrector: HotwordCorrector,
) -> None:
    assert suspects(corrector, "今天天气很好我们出去走走") == ()
    assert suspects(corrector, "我想问一下社保缴费怎么交") == ()
    assert suspects(corrector, "甚至出现交易几乎停滞的情况") == ()


def test_suspects_are_ranked_limited_and_thresholded(corrector: HotwordCorrector) -> None:
    text = "射爆角飞和攻击肩体取还有巨柱正"
    found = suspects(corrector, text, limit=2)
    assert len(found) == 2 and set(found) <= {"社保缴费", "公积金提取", "居住证"}
    assert suspects(corrector, text, threshold=1.01) == ()
