"""Errors raised by the codec layer.

``CodecError`` subclasses ``ValueError`` because nearly every failure here is bad input (a
malformed payload, an unsupported rate); callers at the ingest edges catch it, count it and drop
the packet instead of crashing the call.
"""

from __future__ import annotations

__all__ = ["CodecError", "CodecUnavailable"]


class CodecError(ValueError):
    """Bad input or configuration for a codec: the message names what was wrong."""


class CodecUnavailable(CodecError):
    """A codec needs an optional library that is not installed; the message names it."""
