"""PcmRing: spans by media time, gaps as silence, old and future spans refused."""

from __future__ import annotations

import numpy as np

from jiesu.engine.alerts.pcm_ring import PcmRing


def ramp(start: int, n: int) -> np.ndarray:
    return (np.arange(start, start + n) % 30000).astype(np.int16)


def test_span_returns_exactly_the_samples_of_the_interval() -> None:
    ring = PcmRing(seconds=1.0, rate=1000)  # 1000 samples, 1 sample per ms
    for i in range(0, 2500, 100):
        ring.append(i, ramp(i, 100))
    got = ring.span(1700, 2450)
    assert got is not None and np.array_equal(got, ramp(1700, 750))
    assert ring.span(1400, 1600) is None  # overwritten
    assert ring.span(2400, 2600) is None  # not heard yet
    assert ring.span(2000, 2000) is None  # empty


def test_a_gap_reads_as_silence_and_a_late_chunk_does_not_overwrite_newer_audio() -> None:
    ring = PcmRing(seconds=0.5, rate=1000)
    ring.append(0, ramp(0, 100))
    ring.append(300, ramp(300, 100))
    gap = ring.span(100, 300)
    assert gap is not None and not gap.any()
    ring.append(400, ramp(400, 400))  # window now 300..800
    ring.append(250, ramp(9000, 100))  # partly older than the window: only 300..350 kept
    got = ring.span(300, 800)
    assert got is not None and np.array_equal(
        got, np.concatenate((ramp(9000, 100)[50:], ramp(350, 450)))
    )
    assert ring.span(750, 800) is not None and np.array_equal(ring.span(750, 800), ramp(750, 50))


def test_a_chunk_longer_than_the_ring_keeps_its_newest_samples() -> None:
    ring = PcmRing(seconds=0.2, rate=1000)
    ring.append(0, ramp(0, 500))
    got = ring.span(300, 500)
    assert got is not None and np.array_equal(got, ramp(300, 200))
    assert ring.span(200, 500) is None
