"""Logging for the runtime: one format, and a filter that masks personal data in every record.

Code should never log a phone or ID number in the first place; this filter is the safety net
that masks anything that looks like one (mainland mobile and landline numbers, 18-digit
resident ID numbers) in the final message, whatever logger or argument it came from.
"""

from __future__ import annotations

import logging
import re

# 18-digit resident ID (last may be X), then mobile numbers, then landlines with area code.
_ID_NUMBER = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[- ]?\d{3,4}(\d{4})(?!\d)")


def redact(text: str) -> str:
    """Mask phone and ID numbers, keeping a few digits so an operator can still tell them apart."""
    text = _ID_NUMBER.sub(r"\1********\2", text)
    text = _MOBILE.sub(r"\1****\2", text)
    return _LANDLINE.sub(r"\1-****\2", text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with :func:`redact` applied (args folded in first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: str = "INFO") -> None:
    """Log to stderr with timestamps; every handler masks personal data."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # websockets logs every connection at INFO; the gateway and ingest log what matters.
    logging.getLogger("websockets").setLevel(max(logging.WARNING, root.level))
