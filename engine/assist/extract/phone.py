"""Phone numbers from spoken Chinese: mobiles (1[3-9] + 9 digits), landlines with an area code
(0 + 2-3 digit code + 7-8 digits) or without, service numbers (12345, 110, 95xxx, 400…).

Digits may be spoken (幺/两/洞/零…九) or already digits from the ASR normaliser, in groups with
pauses and fillers, with self-corrections; see :mod:`digitruns`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jiesu.engine.assist.extract.digitruns import DigitRun, find_digit_runs

_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0(?:10|2\d|[3-9]\d{2})[2-9]\d{6,7}")
_LOCAL = re.compile(r"[2-9]\d{6,7}")
_SERVICE = re.compile(
    r"1(?:10|19|20|22|2345|2315|2319|2333|2320|2369|2366|2358|2348)|95\d{3}|96\d{3}|400\d{7}|800\d{7}"
)
_COUNTRY = "86"
#: A number followed by one of these counts something.
_UNITS = frozenset("个人次块元年月号楼层岁天位栋幢户间台辆件张分秒斤米")


@dataclass(frozen=True, slots=True)
class PhoneMatch:
    """A phone number (digits only), the span [start, end) it was said in, a confidence, and
    its kind: ``mobile``, ``landline`` (with or without area code) or ``other`` (service)."""

    number: str
    start: int
    end: int
    confidence: float
    kind: str


def classify_number(digits: str) -> tuple[str, float] | None:
    """(kind, base confidence) of a well-formed phone number, or None."""
    if _MOBILE.fullmatch(digits):
        return "mobile", 0.97
    if _LANDLINE.fullmatch(digits):
        # 0xx(x) + 7/8 digits: with a 3-digit code (010, 02x) the local part has 8 digits.
        code = 3 if digits[1] in "12" else 4
        if len(digits) - code in (7, 8) and not (code == 3 and len(digits) - code == 7):
            return "landline", 0.93
    if _SERVICE.fullmatch(digits):
        return "other", 0.9
    if _LOCAL.fullmatch(digits):
        return "landline", 0.6
    return None


def _strip_country(digits: str) -> str:
    if digits.startswith(_COUNTRY) and _MOBILE.fullmatch(digits[2:]):
        return digits[2:]
    if digits.startswith("0086") and _MOBILE.fullmatch(digits[4:]):
        return digits[4:]
    return digits


def _valid(digits: str) -> bool:
    # Deciding how a correction reads: a bare local number is too weak a reason.
    found = classify_number(_strip_country(digits))
    return found is not None and found[1] > 0.6


def _is_count(text: str, run: DigitRun) -> bool:
    """一二三四五个人, 浙A一二三四五: a count or a plate, not a phone number."""
    after = text[run.end : run.end + 1]
    before = text[run.start - 1 : run.start] if run.start > 0 else ""
    return after in _UNITS or (before.isascii() and before.isalpha())


def _from_run(run: DigitRun) -> list[PhoneMatch]:
    if "X" in run.digits:
        return []
    digits = _strip_country(run.digits)
    found = classify_number(digits)
    penalty = (0.08 if run.corrected else 0.0) + min(0.1, 0.01 * max(0, run.fillers - 3))
    if found is not None:
        kind, confidence = found
        return [PhoneMatch(digits, run.start, run.end, round(confidence - penalty, 3), kind)]
    if len(run.digits) in (15, 18) or run.corrected:
        return []  # an ID number, or a correction that left no well-formed number
    # Two numbers said back to back, or a stray digit word before the number: take the
    # longest well-formed stretch of whole groups.
    out: list[PhoneMatch] = []
    groups = run.groups
    i = 0
    while i < len(groups):
        best: tuple[int, str, str, float] | None = None
        for j in range(len(groups), i, -1):
            candidate = _strip_country("".join(groups[i:j]))
            found = classify_number(candidate)
            if found is not None and found[1] > 0.6:  # not a bare local number
                best = (j, candidate, found[0], found[1])
                break
        if best is None:
            i += 1
            continue
        j, number, kind, confidence = best
        # Spans of sub-runs are not tracked per group: the whole run is the source.
        out.append(PhoneMatch(number, run.start, run.end, round(confidence - 0.1, 3), kind))
        i = j
    return out


def extract_phones(text: str) -> list[PhoneMatch]:
    """Every phone number said in ``text``, in order of appearance."""
    out: list[PhoneMatch] = []
    for run in find_digit_runs(text, _valid):
        if not _is_count(text, run):
            out.extend(_from_run(run))
    return out
