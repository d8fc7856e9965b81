"""Spoken digit readings and counted numbers."""

from __future__ import annotations

import random

from jiesu.engine.assist.extract.spoken import digit_of, read_count, read_digits


def test_digit_readings() -> None:
    assert [digit_of(c) for c in "幺两洞零九８"] == ["1", "2", "0", "0", "9", "8"]
    assert digit_of("好") is None


def test_read_count() -> None:
    assert [read_count(v) for v in (0, 10, 15, 101, 302, 1010)] == [
        "零", "十", "十五", "一百零一", "三百零二", "一千零一十",
    ]  # fmt: skip


def test_read_digits_round_trip() -> None:
    rng = random.Random(3)
    for style in ("plain", "phone", "mixed"):
        said = read_digits("13802468", rng, style)
        assert "".join(digit_of(c) or "?" for c in said) == "13802468"
