"""``jiesu bench vad`` helpers without a model: simulated legs and utterance matching."""

from __future__ import annotations

import numpy as np

from jiesu.bench.vad import CHUNK, _match, leg_streams


def test_legs_are_20ms_chunks_of_looped_audio_from_different_places() -> None:
    clips = [np.arange(1000, dtype=np.int16), np.arange(1000, 1700, dtype=np.int16)]
    legs = leg_streams(clips, 3, seconds=0.5)
    assert len(legs) == 3
    assert all(len(chunks) == 25 and all(len(c) == CHUNK for c in chunks) for chunks in legs)
    looped = np.concatenate(clips)
    for chunks in legs:
        audio = np.concatenate(chunks)
        start = int(np.flatnonzero(looped == audio[0])[0])
        expected = np.tile(looped, 20)[start : start + len(audio)]
        np.testing.assert_array_equal(audio, expected)  # the clips, looped without a seam
    assert len({int(chunks[0][0]) for chunks in legs}) == 3


def test_utterances_are_paired_by_overlap_and_the_rest_counted() -> None:
    old = [(0, 1000), (2000, 3000), (5000, 5200)]
    new = [(40, 1100), (1900, 2500), (2600, 3040), (8000, 9000)]
    starts, ends, unmatched = _match(old, new)
    # (2000, 3000) overlaps (1900, 2500) by 500 and (2600, 3040) by 400: the larger wins.
    assert starts == [40, -100]
    assert ends == [100, -500]
    assert unmatched == 1 + 2  # old (5000, 5200); new (2600, 3040) and (8000, 9000)
