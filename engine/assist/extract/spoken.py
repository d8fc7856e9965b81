"""Spoken Chinese digits: the readings callers use for numbers, both ways.

Digit by digit (一三八, 幺 for 1, 两 for 2, 洞 for 0 in the radio style), ASCII and full-width
digits from the ASR normaliser, and counted numbers (三百零二) for house and room numbers.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from types import MappingProxyType

_SPOKEN = {
    "零": "0", "〇": "0", "洞": "0", "○": "0",
    "一": "1", "幺": "1", "么": "1", "壹": "1",
    "二": "2", "两": "2", "贰": "2",
    "三": "3", "叁": "3", "四": "4", "肆": "4", "五": "5", "伍": "5",
    "六": "6", "陆": "6", "七": "7", "柒": "7", "拐": "7", "八": "8", "捌": "8",
    "九": "9", "玖": "9", "勾": "9",
}  # fmt: skip
#: Reading of one spoken digit (or an ASCII / full-width digit) -> the digit.
DIGIT_READINGS: Mapping[str, str] = MappingProxyType(
    {**_SPOKEN, **{d: d for d in "0123456789"}, **{chr(ord(d) + 0xFEE0): d for d in "0123456789"}}
)

_PLAIN = "零一二三四五六七八九"


def digit_of(char: str) -> str | None:
    """The digit a character reads as, or None."""
    return DIGIT_READINGS.get(char)


def read_digits(number: str, rng: random.Random, style: str = "mixed") -> str:
    """Say a digit string one digit at a time: ``plain`` (一二), ``phone`` (幺/两 the way a
    caller reads a phone number), ``mixed`` (either per digit, at random)."""
    out = []
    for d in number:
        k = int(d)
        if style == "phone" or (style == "mixed" and rng.random() < 0.5):
            out.append("幺" if k == 1 else "两" if k == 2 and rng.random() < 0.3 else _PLAIN[k])
        else:
            out.append(_PLAIN[k])
    return "".join(out)


def read_count(value: int) -> str:
    """A number under 10,000 read as a count: 302 -> 三百零二, 15 -> 十五, 1000 -> 一千."""
    if value == 0:
        return "零"
    units = ((1000, "千"), (100, "百"), (10, "十"))
    out: list[str] = []
    rest = value
    pending_zero = False
    for size, name in units:
        k, rest = divmod(rest, size)
        if k:
            if pending_zero:
                out.append("零")
                pending_zero = False
            if not (size == 10 and k == 1 and not out):
                out.append(_PLAIN[k])
            out.append(name)
        elif out:
            pending_zero = True
    if rest:
        if pending_zero:
            out.append("零")
        out.append(_PLAIN[rest])
    return "".join(out)
