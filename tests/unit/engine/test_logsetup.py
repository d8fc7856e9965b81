"""Personal data never reaches a log line unmasked."""

from __future__ import annotations

import logging

import pytest

from jiesu.engine.logsetup import RedactingFilter, redact


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        ("回拨 13812345678 谢谢", "13812345678", "138****5678"),
        ("caller=+86 13912345678", "13912345678", "139****5678"),
        ("ID 11010519491231002X ok", "11010519491231002X", "110105********002X"),
        ("座机 0571-87654321", "87654321", "0571-****4321"),
        ("电话02187654321", "87654321", "****4321"),
    ],
)
def test_numbers_are_masked(text: str, secret: str, kept: str) -> None:
    out = redact(text)
    assert secret not in out
    assert kept in out


def test_ordinary_numbers_are_left_alone() -> None:
    text = "call c-12 seq 1024 took 35 ms on port 8765, 2026-11-23"
    assert redact(text) == text


def test_filter_masks_arguments_of_any_logger(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("jiesu.test.pii")
    logger.addFilter(RedactingFilter())
    try:
        with caplog.at_level(logging.INFO, logger="jiesu.test.pii"):
            logger.info("caller %s said %s", "13812345678", "hello")
    finally:
        logger.filters.clear()
    assert "13812345678" not in caplog.text
    assert "138****5678 said hello" in caplog.text
