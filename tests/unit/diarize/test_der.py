"""DER scorer on hand-worked cases: mapping, missed, false alarm, confusion, collar, overlap."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from jiesu.engine.diarize import der as der_mod
from jiesu.engine.diarize.der import Segment, diarization_error, optimal_mapping, parse_rttm

A0 = Segment("A", 0.0, 10.0)
B1 = Segment("B", 10.0, 20.0)


def test_perfect_hypothesis_with_other_names_scores_zero() -> None:
    res = diarization_error([A0, B1], [Segment("x", 0, 10), Segment("y", 10, 20)], collar=0)
    assert res.der == pytest.approx(0.0)
    assert res.mapping == {"x": "A", "y": "B"}
    assert res.scored_s == pytest.approx(20.0)


def test_swapped_names_are_mapped_not_confused() -> None:
    res = diarization_error([A0, B1], [Segment("B", 0, 10), Segment("A", 10, 20)], collar=0)
    assert res.der == pytest.approx(0.0)
    assert res.mapping == {"B": "A", "A": "B"}


def test_one_label_for_two_speakers_is_half_confusion() -> None:
    res = diarization_error([A0, B1], [Segment("x", 0, 20)], collar=0)
    assert res.confusion == pytest.approx(10.0)
    assert res.missed == pytest.approx(0.0)
    assert res.false_alarm == pytest.approx(0.0)
    assert res.der == pytest.approx(0.5)


def test_missed_and_false_alarm() -> None:
    res = diarization_error([A0, B1], [Segment("x", 0, 5), Segment("y", 10, 25)], collar=0)
    assert res.missed == pytest.approx(5.0)
    assert res.false_alarm == pytest.approx(5.0)
    assert res.confusion == pytest.approx(0.0)
    assert res.der == pytest.approx(0.5)


def test_empty_hypothesis_misses_everything() -> None:
    res = diarization_error([A0, B1], [], collar=0)
    assert res.der == pytest.approx(1.0)
    assert res.missed == pytest.approx(20.0)


def test_collar_removes_a_quarter_second_each_side_of_reference_boundaries() -> None:
    # Boundaries at 0, 10 (twice) and 20: 0.25 + 0.5 + 0.25 s are not scored.
    res = diarization_error([A0, B1], [Segment("x", 0, 10.2), Segment("y", 10.2, 20)])
    assert res.scored_s == pytest.approx(19.0)
    # The 0.2 s error sits inside the collar: forgiven.
    assert res.der == pytest.approx(0.0)
    uncollared = diarization_error([A0, B1], [Segment("x", 0, 10.2), Segment("y", 10.2, 20)], 0)
    assert uncollared.confusion == pytest.approx(0.2)


def test_overlapped_reference_speech_counts_for_both() -> None:
    ref = [A0, Segment("B", 5, 10)]
    res = diarization_error(ref, [Segment("x", 0, 10)], collar=0)
    assert res.scored_s == pytest.approx(15.0)
    assert res.missed == pytest.approx(5.0)
    assert res.der == pytest.approx(1 / 3)


def test_extra_system_speaker_is_confusion_when_unmapped() -> None:
    hyp = [Segment("x", 0, 10), Segment("y", 10, 15), Segment("z", 15, 20)]
    res = diarization_error([A0, B1], hyp, collar=0)
    assert res.confusion == pytest.approx(5.0)
    assert len(res.mapping) == 2


def test_brute_force_mapping_matches_hungarian() -> None:
    rng = np.random.default_rng(7)
    for rows, cols in itertools.product(range(1, 5), range(1, 5)):
        overlap = rng.random((rows, cols))
        best = sum(overlap[i, j] for i, j in optimal_mapping(overlap))
        brute = sum(overlap[i, j] for i, j in der_mod._brute_force_mapping(overlap))
        assert brute == pytest.approx(best)
        assert len(der_mod._brute_force_mapping(overlap)) == min(rows, cols)


def test_parse_rttm() -> None:
    text = (
        "SPEAKER s 1 6.690 0.430 <NA> <NA> spk90 <NA> <NA>\n"
        "# a comment\n\n"
        "SPEAKER s 1 7.550 0.800 <NA> <NA> spk91 <NA> <NA>\n"
    )
    segs = parse_rttm(text)
    assert [s.speaker for s in segs] == ["spk90", "spk91"]
    assert segs[0].start == pytest.approx(6.69)
    assert segs[1].end == pytest.approx(8.35)
    with pytest.raises(ValueError, match="line 1"):
        parse_rttm("SPEAKER s 1 6.690\n")


def test_segment_rejects_negative_durations() -> None:
    with pytest.raises(ValueError):
        Segment("a", 2.0, 1.0)
