"""Resident ID numbers: spoken digits, 叉/X check digit, GB 11643 checksum, corrections."""

from __future__ import annotations

import pytest

from jiesu.engine.assist.extract.idcard import check_digit, checksum_ok, extract_id_numbers
from jiesu.engine.assist.extract.spoken import read_digits

# A syntactically valid number (region 110105, born 1949-12-31), check digit computed below.
BODY = "11010519491231002"


def test_check_digit_follows_gb11643() -> None:
    # Worked example of the standard's MOD 11-2: this body's check character is X.
    assert check_digit(BODY) == "X"
    assert checksum_ok(BODY + "X")
    assert not checksum_ok(BODY + "1")


@pytest.mark.parametrize(
    "said",
    [
        "幺幺零幺零五幺九四九幺二三幺零零二叉",
        "一一零一零五，一九四九一二三一，零零二X",
        "11010519491231002X",
        "幺幺零幺零五 一九四九幺二三幺 零零二x",
    ],
)
def test_spoken_forms(said: str) -> None:
    (match,) = extract_id_numbers("我的身份证号是" + said + "，你核对一下")
    assert match.number == BODY + "X"
    assert match.checksum_ok
    assert match.confidence > 0.9


def test_wrong_check_digit_is_kept_but_flagged() -> None:
    (match,) = extract_id_numbers("身份证是110105194912310021")
    assert match.number == "110105194912310021"
    assert not match.checksum_ok
    assert match.confidence < 0.9


def test_correction_resolves_towards_a_valid_checksum() -> None:
    import random

    said = read_digits(BODY[:14], random.Random(0), "phone")
    text = f"{said}零零三叉，不对，零零二叉"
    (match,) = extract_id_numbers(text)
    assert match.number == BODY + "X"
    assert match.checksum_ok


def test_phone_numbers_are_not_id_numbers() -> None:
    assert extract_id_numbers("电话一三八幺二三四五六七八") == []
