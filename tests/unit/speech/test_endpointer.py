"""Endpointer with scripted 20 ms frame sequences."""

from __future__ import annotations

import itertools

import pytest

from jiesu.engine.speech.endpointer import (
    Endpointer,
    EndpointerConfig,
    EndpointEvent,
    EndReason,
    PartialDue,
    PauseSeen,
    SpeechStart,
    UtteranceEnd,
)

F = 20


def script(spec: str) -> list[float]:
    """'S' = speech frame (prob 0.9), '.' = silence (prob 0.05); spaces ignored."""
    return [0.9 if c == "S" else 0.05 for c in spec if c in "S."]


def feed(
    ep: Endpointer, probs: list[float], start: int = 0, energies: list[float] | None = None
) -> list[tuple[int, EndpointEvent]]:
    out: list[tuple[int, EndpointEvent]] = []
    for i, p in enumerate(probs):
        t = start + i * F
        e = energies[i] if energies is not None else 0.0
        out += [(t, ev) for ev in ep.push(t, p, e)]
    return out


def of(events: list[tuple[int, EndpointEvent]], kind: type) -> list[EndpointEvent]:
    return [e for _, e in events if isinstance(e, kind)]


CFG = EndpointerConfig(min_speech_ms=100, hangover_ms=300, max_utterance_s=4.0, split_search_s=2.0)


def test_silence_gives_nothing() -> None:
    ep = Endpointer(CFG)
    assert feed(ep, script("." * 500)) == []
    assert ep.flush() == []


def test_short_click_is_suppressed() -> None:
    ep = Endpointer(CFG)
    events = feed(ep, script("." * 10 + "SS" + "." * 30 + "SSS" + "." * 30))
    assert events == []


def test_start_and_end_after_hangover() -> None:
    ep = Endpointer(CFG)
    # 10 silent frames, 1 s speech (50 frames), 20 silent frames.
    events = feed(ep, script("." * 10 + "S" * 50 + "." * 20))
    starts = of(events, SpeechStart)
    ends = of(events, UtteranceEnd)
    assert starts == [SpeechStart(1, 200)]
    assert ends == [UtteranceEnd(1, 200, 1200, EndReason.PAUSE)]
    # The end is reported on the frame where the hangover (300 ms = 15 frames) is complete.
    end_frame_t = next(t for t, e in events if isinstance(e, UtteranceEnd))
    assert end_frame_t + F - 1200 == 300
    # SpeechStart is reported once min_speech (100 ms = 5 frames) has been heard.
    start_frame_t = next(t for t, e in events if isinstance(e, SpeechStart))
    assert start_frame_t == 200 + 4 * F


def test_short_gap_does_not_end_the_utterance() -> None:
    ep = Endpointer(CFG)
    events = feed(ep, script("S" * 20 + "." * 10 + "S" * 20 + "." * 20))
    assert of(events, SpeechStart) == [SpeechStart(1, 0)]
    assert of(events, UtteranceEnd) == [UtteranceEnd(1, 0, 1000, EndReason.PAUSE)]


def test_hangover_is_configurable() -> None:
    ep = Endpointer(EndpointerConfig(min_speech_ms=100, hangover_ms=100))
    events = feed(ep, script("S" * 20 + "." * 10 + "S" * 20 + "." * 10))
    assert len(of(events, UtteranceEnd)) == 2


def test_partials_every_half_second_of_speech() -> None:
    ep = Endpointer(CFG)
    events = feed(ep, script("S" * 100 + "." * 20))  # 2 s of speech
    partials = of(events, PartialDue)
    assert [p.t_end for p in partials] == [500, 1000, 1500, 2000]  # type: ignore[union-attr]
    assert all(p.t_start == 0 for p in partials)  # type: ignore[union-attr]


def test_no_partial_during_trailing_silence() -> None:
    ep = Endpointer(EndpointerConfig(min_speech_ms=100, hangover_ms=1500))
    events = feed(ep, script("S" * 30 + "." * 80))
    partials = of(events, PartialDue)
    # Speech runs 0..600 ms: a partial at 500, one more at 1000 for the speech heard after
    # 500 ms, then none while only silence comes in (until the hangover ends at 2100 ms).
    assert [p.t_end for p in partials] == [500, 1000]  # type: ignore[union-attr]
    assert of(events, UtteranceEnd) == [UtteranceEnd(1, 0, 600, EndReason.PAUSE)]


def test_gaps_between_partials_never_exceed_interval_while_speaking() -> None:
    ep = Endpointer(CFG)
    events = feed(ep, script("SSSS.SSS..SSSSS.SS" * 10 + "." * 30))
    times = [0] + [p.t_end for p in of(events, PartialDue)]  # type: ignore[union-attr]
    assert len(times) > 3
    assert all(b - a <= 500 for a, b in itertools.pairwise(times))


def test_long_turn_is_split_at_the_pause() -> None:
    ep = Endpointer(CFG)  # max 4 s, search the last 2 s
    # 2.6 s speech, 160 ms pause (too short for the 300 ms hangover), speech on past 4 s.
    probs = script("S" * 130 + "." * 8 + "S" * 80 + "." * 20)
    events = feed(ep, probs)
    ends = of(events, UtteranceEnd)
    assert ends[0] == UtteranceEnd(1, 0, 2600, EndReason.MAX_LENGTH)
    starts = of(events, SpeechStart)
    assert len(starts) == 2
    assert 2600 < starts[1].t_start <= 2600 + 8 * F  # type: ignore[union-attr]
    assert ends[1].reason is EndReason.PAUSE  # type: ignore[union-attr]
    assert ends[1].t_end == (130 + 8 + 80) * F  # type: ignore[union-attr]


def test_split_prefers_the_quietest_pause() -> None:
    ep = Endpointer(CFG)
    spec = "S" * 110 + "." * 3 + "S" * 30 + "." * 3 + "S" * 60
    probs = script(spec)
    energies = [1.0] * len(probs)
    # Make the second pause (frames 143..145) quieter than the first (110..112).
    for k in range(110, 113):
        energies[k] = 0.5
    for k in range(143, 146):
        energies[k] = 0.1
    events = feed(ep, probs, energies=energies)
    first_end = of(events, UtteranceEnd)[0]
    assert first_end == UtteranceEnd(1, 0, 143 * F, EndReason.MAX_LENGTH)


def test_split_mid_speech_only_when_no_pause() -> None:
    ep = Endpointer(CFG)
    probs = [0.9] * 250
    # The least confident speech frame in the last 2 s is where the cut goes.
    probs[180] = 0.6
    events = feed(ep, probs)
    first_end = of(events, UtteranceEnd)[0]
    assert first_end == UtteranceEnd(1, 0, 181 * F, EndReason.MAX_LENGTH)
    assert of(events, SpeechStart)[1] == SpeechStart(2, 181 * F)


def test_no_utterance_longer_than_max() -> None:
    ep = Endpointer(CFG)
    events = feed(ep, script(("S" * 40 + "..") * 20))
    events += [(0, e) for e in ep.flush()]
    for e in of(events, UtteranceEnd):
        assert e.t_end - e.t_start <= 4000  # type: ignore[union-attr]
    assert len(of(events, UtteranceEnd)) >= 4


def test_flush_closes_open_utterance() -> None:
    ep = Endpointer(CFG)
    feed(ep, script("S" * 20 + "...."))
    assert ep.flush() == [UtteranceEnd(1, 0, 400, EndReason.FLUSH)]
    assert not ep.in_speech


def test_accepts_boolean_decisions() -> None:
    ep = Endpointer(CFG)
    events: list[EndpointEvent] = []
    for i in range(40):
        events += ep.push(i * F, i < 20)
    assert UtteranceEnd(1, 0, 400, EndReason.PAUSE) in events


def test_time_must_not_go_back() -> None:
    ep = Endpointer(CFG)
    ep.push(100, 0.0)
    with pytest.raises(ValueError):
        ep.push(100, 0.0)


def test_config_is_validated() -> None:
    with pytest.raises(ValueError):
        EndpointerConfig(hangover_ms=0)
    with pytest.raises(ValueError):
        EndpointerConfig(max_utterance_s=2.0, split_search_s=3.0)


def test_pause_seen_comes_early_with_the_times_of_the_end_that_confirms_it() -> None:
    cfg = EndpointerConfig(min_speech_ms=100, hangover_ms=600, early_final_ms=240)
    ep = Endpointer(cfg)
    events = feed(ep, script("." * 10 + "S" * 50 + "." * 40))
    seen = [(t, e) for t, e in events if isinstance(e, PauseSeen)]
    assert [e for _, e in seen] == [PauseSeen(1, 200, 1200)]
    # 12 silent frames (240 ms) after the last speech frame ends at 1200 ms.
    assert seen[0][0] == 1200 + 11 * F
    assert of(events, UtteranceEnd) == [UtteranceEnd(1, 200, 1200, EndReason.PAUSE)]


def test_pause_seen_once_per_pause_and_again_after_speech_resumes() -> None:
    cfg = EndpointerConfig(min_speech_ms=100, hangover_ms=600, early_final_ms=240)
    ep = Endpointer(cfg)
    events = feed(ep, script("S" * 20 + "." * 20 + "S" * 20 + "." * 40))
    assert of(events, PauseSeen) == [PauseSeen(1, 0, 400), PauseSeen(1, 0, 1200)]
    assert of(events, UtteranceEnd) == [UtteranceEnd(1, 0, 1200, EndReason.PAUSE)]


@pytest.mark.parametrize("early", [0, 600, 700])
def test_no_pause_seen_when_off_or_not_before_the_hangover(early: int) -> None:
    cfg = EndpointerConfig(min_speech_ms=100, hangover_ms=600, early_final_ms=early)
    events = feed(Endpointer(cfg), script("S" * 20 + "." * 40))
    assert of(events, PauseSeen) == []
    assert len(of(events, UtteranceEnd)) == 1
