"""Keypad digit collection for the dialogs, pure: digits and clock ticks in, a result out.

A dialog asks for digits (a phone number, a menu choice) with :class:`DigitRequest`: at most
``max_digits``, ended early by ``terminator`` (``#`` by default; not part of the digits), and by
silence: ``first_digit_ms`` for the first key, ``inter_digit_ms`` between keys. Times are the
call's media clock (ms), so the same core runs on SIP (RFC 4733 or SIP INFO digits, with their
times) and in tests without sleeping. :func:`press` and :func:`tick` return the new state and,
once collection ends, the :class:`Collected` result; a finished collector ignores further input.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

KEYS = frozenset("0123456789*#ABCD")


class Ended(enum.StrEnum):
    """Why collection ended."""

    MAX_DIGITS = "max_digits"
    TERMINATOR = "terminator"
    #: No key within ``first_digit_ms``: nothing was pressed.
    NO_INPUT = "no_input"
    #: A pause longer than ``inter_digit_ms`` after some digits.
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class DigitRequest:
    max_digits: int = 1
    terminator: str = "#"
    first_digit_ms: int = 5_000
    inter_digit_ms: int = 3_000

    def __post_init__(self) -> None:
        if self.max_digits < 1:
            raise ValueError(f"max_digits must be at least 1, got {self.max_digits}")
        if self.terminator and self.terminator not in KEYS:
            raise ValueError(f"terminator must be one key of {sorted(KEYS)} or empty")
        if self.first_digit_ms <= 0 or self.inter_digit_ms <= 0:
            raise ValueError("timeouts must be positive")


@dataclass(frozen=True, slots=True)
class Collected:
    digits: str
    ended: Ended
    #: Media time at which collection ended.
    at_ms: int


@dataclass(frozen=True, slots=True)
class DigitState:
    """Collection of one request, started at ``started_ms`` (media time)."""

    request: DigitRequest
    started_ms: int
    digits: str = ""
    last_ms: int | None = None
    done: bool = False

    @property
    def deadline_ms(self) -> int:
        """When silence ends collection."""
        if self.last_ms is None:
            return self.started_ms + self.request.first_digit_ms
        return self.last_ms + self.request.inter_digit_ms


def start(request: DigitRequest, now_ms: int) -> DigitState:
    return DigitState(request, now_ms)


def press(state: DigitState, key: str, at_ms: int) -> tuple[DigitState, Collected | None]:
    """One key at media time ``at_ms`` (digits arrive in order; a key not on a phone's keypad
    raises ValueError, which the door counts as a bad digit)."""
    if key not in KEYS:
        raise ValueError(f"not a keypad key: {key!r}")
    if state.done:
        return state, None
    state, ended = tick(state, at_ms)  # a key after the deadline does not revive it
    if ended is not None:
        return state, ended
    if key == state.request.terminator:
        return _end(state, Ended.TERMINATOR, at_ms)
    state = replace(state, digits=state.digits + key, last_ms=at_ms)
    if len(state.digits) >= state.request.max_digits:
        return _end(state, Ended.MAX_DIGITS, at_ms)
    return state, None


def tick(state: DigitState, now_ms: int) -> tuple[DigitState, Collected | None]:
    """The clock moved to ``now_ms``: ends collection when the silence ran out."""
    if state.done or now_ms < state.deadline_ms:
        return state, None
    reason = Ended.NO_INPUT if not state.digits else Ended.TIMEOUT
    return _end(state, reason, state.deadline_ms)


def _end(state: DigitState, reason: Ended, at_ms: int) -> tuple[DigitState, Collected]:
    return replace(state, done=True), Collected(state.digits, reason, at_ms)
