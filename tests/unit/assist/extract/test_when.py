"""Relative times resolved against the call's start (a Thursday afternoon)."""

from __future__ import annotations

from datetime import datetime

import pytest

from jiesu.engine.assist.extract.when import chinese_number, extract_times

REF = datetime(2026, 12, 3, 14, 30)  # Thursday


def one(text: str) -> tuple[datetime, datetime | None, bool]:
    (match,) = extract_times(text, REF)
    return match.start_time, match.end_time, match.recurring


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("昨天晚上十点", datetime(2026, 12, 2, 22), None),
        ("前天下午", datetime(2026, 12, 1, 13), datetime(2026, 12, 1, 18)),
        ("上周三", datetime(2026, 11, 25), datetime(2026, 11, 26)),
        ("三天前", datetime(2026, 11, 30), datetime(2026, 12, 1)),
        ("今天上午十点半", datetime(2026, 12, 3, 10, 30), None),
        ("今早七点一刻", datetime(2026, 12, 3, 7, 15), None),
        ("昨天半夜两点", datetime(2026, 12, 3, 2), None),
        ("晚上十二点", datetime(2026, 12, 4, 0), None),
        ("两个小时前", datetime(2026, 12, 3, 12, 30), None),
        ("五月三号", datetime(2026, 5, 3), datetime(2026, 5, 4)),
        ("上个月", datetime(2026, 11, 1), datetime(2026, 12, 1)),
        ("这周五下午三点", datetime(2026, 12, 4, 15), None),
        ("22:30", datetime(2026, 12, 3, 22, 30), None),
    ],
)
def test_resolution(text: str, start: datetime, end: datetime | None) -> None:
    assert one(text)[:2] == (start, end)


def test_every_evening_is_the_latest_evening() -> None:
    start, end, recurring = one("每天晚上")
    assert (start, end, recurring) == (datetime(2026, 12, 2, 18), datetime(2026, 12, 3), True)


def test_span_inside_a_sentence() -> None:
    text = "从昨天晚上十点开始一直在施工"
    (match,) = extract_times(text, REF)
    assert text[match.text_start : match.text_end] == "昨天晚上十点"


@pytest.mark.parametrize("text", ["快一点", "我住在五号楼", "一楼的住户"])
def test_not_times(text: str) -> None:
    assert extract_times(text, REF) == []


def test_chinese_numbers() -> None:
    assert [chinese_number(t) for t in ("十", "十五", "二十三", "两", "15", "一百零五")] == [
        10, 15, 23, 2, 15, 105,
    ]  # fmt: skip
    assert chinese_number("好") is None
