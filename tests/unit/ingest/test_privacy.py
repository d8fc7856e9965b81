"""mask_phone: the caller's number is shown only with its middle masked, however it is written."""

from __future__ import annotations

import re

import pytest

from jiesu.engine.privacy import mask_phone


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("+86 138 1234 5678", "+86 138****5678"),
        ("+8613812345678", "+86 138****5678"),
        ("008613812345678", "+86 138****5678"),
        ("010-87654321", "010****4321"),
        ("075512345678", "075*****5678"),
        ("87654321", "87****21"),
        ("12345", "*****"),
        ("110", "***"),
        ("anonymous", "***"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_mask_phone(number: str, masked: str) -> None:
    assert mask_phone(number) == masked


@pytest.mark.parametrize(
    "number",
    ["13812345678", "+86 139 8765 4321", "02187654321", "8765432", "1234567890", "18600001111"],
)
def test_masked_number_never_shows_its_middle(number: str) -> None:
    digits = re.sub(r"\D", "", number)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    masked = mask_phone(number)
    shown = re.sub(r"\D", "", masked.removeprefix("+86 "))
    assert len(shown) <= 7 and len(digits) - len(shown) >= 3, masked
    # No run of 5 consecutive digits of the clear number survives.
    for i in range(len(digits) - 4):
        assert digits[i : i + 5] not in masked, masked
    # The number of characters still tells an operator how long the number was.
    assert len(masked.removeprefix("+86 ")) == len(digits)
