"""The last seconds of one leg's PCM, addressed by media time, for prosody of an utterance.

Audio does not travel in events, so :class:`~jiesu.engine.alerts.service.AlertService` keeps a
short ring of the caller leg's 16 kHz samples as chunks pass the router, and cuts an utterance
out of it by the final's ``t_start``/``t_end`` when the final arrives (a final lags its audio by
about a second, well inside the ring). Pure: chunks in, a copy of the span out.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from jiesu.engine.audio import PIPELINE_RATE_HZ


class PcmRing:
    """A fixed-size ring of int16 samples; sample ``i`` of the leg is at ``i % capacity``."""

    def __init__(self, seconds: float, rate: int = PIPELINE_RATE_HZ) -> None:
        self.rate = rate
        self._buf = np.zeros(max(1, int(seconds * rate)), np.int16)
        #: Leg sample index one past the newest sample held.
        self._end = 0

    @property
    def capacity(self) -> int:
        return len(self._buf)

    def _index(self, t_ms: int) -> int:
        return t_ms * self.rate // 1000

    def append(self, t_media_ms: int, pcm: npt.NDArray[np.int16]) -> None:
        """Add a chunk that starts at ``t_media_ms``; a gap before it reads as silence."""
        start = self._index(t_media_ms)
        if len(pcm) > self.capacity:
            start, pcm = start + len(pcm) - self.capacity, pcm[-self.capacity :]
        low = self._end - self.capacity
        if start + len(pcm) <= low:
            return  # older than anything held
        if start < low:  # only the part still inside the window; the rest would wrap over it
            start, pcm = low, pcm[low - start :]
        if start > self._end:
            self._write(self._end, np.zeros(min(start - self._end, self.capacity), np.int16))
        self._write(start, pcm)
        self._end = max(self._end, start + len(pcm))

    def _write(self, start: int, samples: npt.NDArray[np.int16]) -> None:
        if len(samples) == 0:
            return
        at = start % self.capacity
        first = min(len(samples), self.capacity - at)
        self._buf[at : at + first] = samples[:first]
        self._buf[: len(samples) - first] = samples[first:]

    def span(self, t_start_ms: int, t_end_ms: int) -> npt.NDArray[np.int16] | None:
        """A copy of the samples in [t_start, t_end), or None where the ring no longer (or not
        yet) holds all of them."""
        start, end = self._index(t_start_ms), self._index(t_end_ms)
        if end <= start or start < self._end - self.capacity or end > self._end:
            return None
        at, n = start % self.capacity, end - start
        first = min(n, self.capacity - at)
        return np.concatenate((self._buf[at : at + first], self._buf[: n - first]))
