"""Phone numbers read out the way callers do: digits, 幺/两/洞, pauses, fillers, corrections."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jiesu.bench.phone import MOBILE_PREFIXES, generate, say_number
from jiesu.engine.assist.extract.phone import classify_number, extract_phones


def numbers(text: str) -> list[str]:
    return [m.number for m in extract_phones(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的电话是一三八幺二三四五六七八", ["13812345678"]),
        ("幺三八，嗯，幺二三四，那个五六七八", ["13812345678"]),
        ("13812345678", ["13812345678"]),
        ("138-1234-5678，谢谢", ["13812345678"]),
        ("幺三八幺二三四五六七九，不对，五六七八", ["13812345678"]),
        ("幺三八幺二三四五六七九不对五六七八", ["13812345678"]),
        ("号码是幺三九幺二三四，尾号不是五六七九，是五六七八", ["13912345678"]),
        ("一三八幺两三四五六七八，错了我重说，一三八幺二三四五六七九", ["13812345679"]),
        ("电话零五七幺八八八八幺二三四", ["057188881234"]),
        ("区号零二八，号码八七六五四三二一", ["02887654321"]),
        ("打一二三四五", ["12345"]),
        ("洞幺零", []),  # 010 alone is an area code, not a number
        ("八六一三八幺二三四五六七八", ["13812345678"]),
        ("一三八幺二三四五六七八，一三九八七六五四三二一", ["13812345678", "13987654321"]),
    ],
)
def test_spoken_numbers(text: str, expected: list[str]) -> None:
    assert numbers(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "两个人",
        "他们一二三四五个人都在",
        "车牌号浙A一二三四五",
        "二零二六年五月三号",
        "快一点",
        "三百五十块钱",
    ],
)
def test_other_numbers_are_not_phones(text: str) -> None:
    assert numbers(text) == []


def test_span_kind_and_confidence() -> None:
    text = "您好，我的手机是幺三八幺二三四五六七八"
    (match,) = extract_phones(text)
    assert text[match.start : match.end] == "幺三八幺二三四五六七八"
    assert match.kind == "mobile"
    corrected = extract_phones("幺三八幺二三四五六七九，不对，五六七八")[0]
    assert corrected.confidence < match.confidence


def test_kinds() -> None:
    assert classify_number("13812345678") == ("mobile", 0.97)
    assert (
        classify_number("02188886666") is not None
        and classify_number("02188886666")[0] == "landline"
    )  # type: ignore[index]
    assert classify_number("12345") == ("other", 0.9)
    assert classify_number("12812345678") is None  # no 12x mobile prefix


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.sampled_from(MOBILE_PREFIXES),
    rest=st.text(alphabet="0123456789", min_size=8, max_size=8),
    style=st.sampled_from(["plain", "pauses", "digits", "mixed"]),
    seed=st.integers(0, 10_000),
)
def test_any_mobile_in_any_style(prefix: str, rest: str, style: str, seed: int) -> None:
    number = prefix + rest
    said = say_number(number, random.Random(seed), style)
    assert numbers("我的电话是" + said + "，你记一下") == [number]


def test_generated_cases_mostly_match() -> None:
    # A held-out seed of the benchmark's generator (the benchmark itself reports the rate).
    cases = generate(300, seed=99)
    misses = [c for c in cases if numbers(c.text) != [c.number]]
    assert len(misses) <= 3, misses
