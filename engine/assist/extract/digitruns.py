"""Runs of spoken digits in a transcript, with pauses, fillers and self-corrections resolved.

A caller reads a number as digits (一三八 幺二三四 五六七八), in groups with pauses and fillers
(嗯, 那个, commas from the ASR), and corrects themselves (…五六七九，不对，五六七八; 不是五六七九，
是五六七八). This module turns the text into runs of digit *groups* and resolves corrections to
the digit string the caller meant; the phone and ID extractors decide what a run is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jiesu.engine.assist.extract.spoken import DIGIT_READINGS

#: Words that take back what was just said.
_CORRECTION = (
    "不好意思",
    "说错了",
    "搞错了",
    "讲错了",
    "不对",
    "错了",
    "哦不",
    "呃不",
    "重新说",
    "我重说",
    "应该是",
    "更正一下",
)
#: Pauses and fillers that may sit between the digits of one number.
_FILLERS = (
    "尾号是", "尾号", "尾数是", "尾数", "后四位是", "后四位", "后面是", "后面", "中间是", "中间",
    "区号是", "区号", "号码是", "号码", "那个", "这个", "就是", "然后", "对吧", "是吧", "是的", "空格", "嗯", "啊", "呃", "额", "哦",
    "噢", "唉", "哎", "呢", "吧", "啦", "呀", "嘛", "杠", "横", "对", "是",
)  # fmt: skip
_NEGATION = "不是"
_TOKEN = re.compile(
    "|".join(
        [
            f"(?P<corr>{'|'.join(_CORRECTION)})",
            f"(?P<neg>{_NEGATION})",
            f"(?P<fill>{'|'.join(_FILLERS)}|[\\s，。、,.\\-—–~～·:：;；!！?？…+/()（）])",
            "(?P<digit>[" + "".join(sorted(DIGIT_READINGS)) + "xX叉])",
            "(?P<other>.)",
        ]
    ),
    re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class DigitRun:
    """What a stretch of speech said: the resolved digits (``X`` kept for ID check digits),
    the character span [start, end) it covers, the groups as heard, and whether a
    self-correction was applied."""

    digits: str
    start: int
    end: int
    groups: tuple[str, ...]
    corrected: bool
    fillers: int


def _digit(char: str) -> str:
    return "X" if char in "xX叉" else DIGIT_READINGS[char]


def resolve_correction(before: Sequence[str], after: str, valid: Callable[[str], bool]) -> str:
    """The number meant when ``after`` takes back part of ``before`` (its groups).

    ``after`` replaces everything from some cut in ``before`` on: cuts at group boundaries are
    tried first, from the last (the last group replaced, or ``after`` appended) to the first
    (``after`` is the whole number said again), then every other cut, from the right. The first
    that ``valid`` accepts wins; failing all, the last group is replaced.
    """
    head = "".join(before)
    boundaries = [0]
    for group in before:
        boundaries.append(boundaries[-1] + len(group))
    at_groups = sorted(set(boundaries), reverse=True)
    cuts = at_groups + [c for c in range(len(head), -1, -1) if c not in at_groups]
    # A correction usually says as many digits as it takes back: readings that keep the
    # number's length come first.
    cuts.sort(key=lambda c: len(head[:c] + after) != len(head))
    for cut in cuts:
        if valid(head[:cut] + after):
            return head[:cut] + after
    return "".join(before[:-1]) + after


def find_digit_runs(text: str, valid: Callable[[str], bool]) -> list[DigitRun]:
    """Every run of spoken digits in ``text`` (at least two digits), corrections resolved with
    ``valid`` deciding which reading of a correction makes a well-formed number."""
    runs: list[DigitRun] = []
    groups: list[str] = []  # groups of the number being built
    current: list[str] = []
    start = end = -1
    corrected = False
    fillers = 0
    mode = "plain"  # "corr": digits after a correction word; "neg": digits after 不是
    pending: list[str] = []  # groups said after a correction marker
    pending_cur: list[str] = []

    def close_group() -> None:
        target = pending if mode != "plain" else groups
        cur = pending_cur if mode != "plain" else current
        if cur:
            target.append("".join(cur))
            cur.clear()

    def settle() -> None:
        # Apply what followed a marker: a correction replaces, a negation is dropped.
        nonlocal mode, corrected
        close_group()
        if mode == "corr" and pending:
            merged = resolve_correction(groups, "".join(pending), valid)
            groups[:] = [merged]
            corrected = True
        elif mode == "neg" and pending:
            corrected = True
        pending.clear()
        mode = "plain"

    def flush() -> None:
        nonlocal start, end, corrected, fillers
        settle()
        digits = "".join(groups)
        if len(digits) >= 2:
            runs.append(DigitRun(digits, start, end, tuple(groups), corrected, fillers))
        groups.clear()
        start = end = -1
        corrected = False
        fillers = 0

    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "digit":
            if start < 0:
                start = m.start()
            end = m.end()
            (pending_cur if mode != "plain" else current).append(_digit(m.group()))
            continue
        if start < 0:
            # Before a number only 不是 matters (不是零五七六，是零五七四…); other words reset it.
            if kind == "neg":
                mode = "neg"
            elif kind == "other":
                mode = "plain"
            continue
        if kind == "fill":
            close_group()
            fillers += 1
            if mode == "neg" and m.group() == "是" and (pending or pending_cur):
                # 不是 Y，是 Z: Y was wrong, Z corrects what came before.
                pending.clear()
                mode = "corr"
        elif kind == "corr":
            settle()
            mode = "corr"
        elif kind == "neg":
            settle()
            mode = "neg"
        else:
            flush()
    flush()
    return runs
