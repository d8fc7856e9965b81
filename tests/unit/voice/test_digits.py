"""Keypad digit collection: terminator, maximum length, first-key and inter-digit timeouts."""

from __future__ import annotations

import pytest

from jiesu.engine.voice.digits import (
    Collected,
    DigitRequest,
    DigitState,
    Ended,
    press,
    start,
    tick,
)


def keys(state: DigitState, presses: list[tuple[str, int]]) -> tuple[DigitState, Collected | None]:
    result = None
    for key, at in presses:
        state, ended = press(state, key, at)
        result = result or ended
    return state, result


def test_a_phone_number_ends_with_the_terminator_which_is_not_a_digit() -> None:
    state = start(DigitRequest(max_digits=11, inter_digit_ms=3000), 1000)
    typed = [(d, 2000 + 500 * i) for i, d in enumerate("1380012")] + [("#", 6000)]
    _, got = keys(state, typed)
    assert got == Collected("1380012", Ended.TERMINATOR, 6000)


def test_collection_stops_at_the_maximum_length_and_ignores_what_follows() -> None:
    state, got = keys(start(DigitRequest(max_digits=2), 0), [("3", 100), ("1", 200)])
    assert got == Collected("31", Ended.MAX_DIGITS, 200)
    assert press(state, "9", 300) == (state, None)
    assert tick(state, 99_999) == (state, None)


def test_silence_ends_collection_at_its_deadline() -> None:
    state = start(DigitRequest(max_digits=5, first_digit_ms=4000, inter_digit_ms=2000), 0)
    assert tick(state, 3999)[1] is None
    assert tick(state, 4000)[1] == Collected("", Ended.NO_INPUT, 4000)
    state, _ = press(state, "7", 1000)
    assert tick(state, 2999)[1] is None
    assert tick(state, 5000)[1] == Collected("7", Ended.TIMEOUT, 3000)


def test_a_key_after_the_deadline_does_not_revive_collection() -> None:
    state, _ = press(start(DigitRequest(max_digits=4, inter_digit_ms=2000), 0), "1", 100)
    state, got = press(state, "2", 2500)
    assert got == Collected("1", Ended.TIMEOUT, 2100) and state.done


def test_bad_keys_and_bad_requests_are_refused() -> None:
    with pytest.raises(ValueError, match="keypad"):
        press(start(DigitRequest(), 0), "x", 10)
    with pytest.raises(ValueError, match="max_digits"):
        DigitRequest(max_digits=0)
    with pytest.raises(ValueError, match="terminator"):
        DigitRequest(terminator="##")
    state, got = keys(start(DigitRequest(max_digits=3, terminator=""), 0), [("*", 1), ("#", 2)])
    assert got is None and state.digits == "*#"  # no terminator: # is a key like any other
