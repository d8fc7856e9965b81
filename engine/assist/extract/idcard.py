"""Resident ID numbers (居民身份证号) from spoken Chinese: 18 characters, the last a check digit
that may be X (said 叉 or X), or the old 15-digit form.

The check digit follows GB 11643-1999 (ISO 7064 MOD 11-2). A match whose checksum fails is still
returned (the agent reads it back and fixes it) with a lower confidence and ``checksum_ok=False``.
ID numbers are personal data: callers of this module mask them everywhere except the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from jiesu.engine.assist.extract.digitruns import find_digit_runs

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


@dataclass(frozen=True, slots=True)
class IdMatch:
    """An ID number (17 digits + digit or X, or 15 digits), its span [start, end), a
    confidence, and whether the check digit is right."""

    number: str
    start: int
    end: int
    confidence: float
    checksum_ok: bool


def check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def checksum_ok(number: str) -> bool:
    """True when an 18-character ID number's last character is its check digit."""
    return len(number) == 18 and number[:17].isdigit() and check_digit(number[:17]) == number[17]


def _birth_date_ok(number: str) -> bool:
    text = number[6:14] if len(number) == 18 else "19" + number[6:12]
    try:
        born = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return False
    return 1900 <= born.year <= 2100


def _well_formed(number: str) -> bool:
    if len(number) == 18:
        return number[:17].isdigit() and (number[17].isdigit() or number[17] == "X")
    return len(number) == 15 and number.isdigit()


def extract_id_numbers(text: str) -> list[IdMatch]:
    """Every ID number said in ``text``, in order of appearance."""
    out: list[IdMatch] = []
    # A correction is resolved towards a number whose check digit is right.
    for run in find_digit_runs(text, checksum_ok):
        number = run.digits
        if not _well_formed(number):
            continue
        ok = checksum_ok(number)
        confidence = 0.97 if ok else 0.5
        if not _birth_date_ok(number):
            confidence -= 0.2
        if run.corrected:
            confidence -= 0.08
        out.append(IdMatch(number, run.start, run.end, round(confidence, 3), ok))
    return out
