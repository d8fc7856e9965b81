"""Sample-rate conversion for 16-bit PCM streams, on top of libsoxr (PyPI ``soxr``).

:class:`StreamResampler` keeps filter state between chunks, so 20 ms packets resampled one by
one give the same signal as the whole recording resampled at once (to within rounding), and
:meth:`StreamResampler.flush` releases what is held back at the end of a stream.

libsoxr computes in blocks, so output comes in bursts and lags the input. Measured at ``"HQ"``
with 20 ms chunks: 8 <-> 16 kHz holds back about 60 ms on average and up to 115 ms,
16 <-> 48 kHz up to about 37 ms, 8 <-> 48 kHz up to about 175 ms.

Filtering runs in float32; results past the int16 range are clipped, never wrapped, and the
output is deterministic (no dither).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr  # type: ignore[import-untyped]  # python-soxr ships no py.typed marker

from jiesu.codecs.errors import CodecError

__all__ = ["QUALITIES", "StreamResampler", "resample"]

#: libsoxr quality presets, fastest first; "HQ" is its default and ours.
QUALITIES = ("QQ", "LQ", "MQ", "HQ", "VHQ")
#: Refuse absurd rates early with our own message instead of libsoxr's.
_MAX_RATE = 384_000


def _check_rates(in_rate: int, out_rate: int) -> None:
    for name, rate in (("in_rate", in_rate), ("out_rate", out_rate)):
        if isinstance(rate, bool) or not isinstance(rate, int) or not 0 < rate <= _MAX_RATE:
            raise CodecError(f"resampler {name} must be an integer 1-{_MAX_RATE} Hz, got {rate!r}")


def _check_quality(quality: str) -> None:
    if quality not in QUALITIES:
        raise CodecError(f"resampler quality must be one of {QUALITIES}, got {quality!r}")


def _check_pcm(pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    if not isinstance(pcm, np.ndarray) or pcm.dtype != np.int16 or pcm.ndim != 1:
        got = f"{pcm.ndim}-D {pcm.dtype}" if isinstance(pcm, np.ndarray) else type(pcm).__name__
        raise CodecError(f"resampler needs a 1-D int16 array, got {got}")
    return np.ascontiguousarray(pcm)


def _to_float(pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
    return pcm.astype(np.float32)


def _to_int16(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.int16]:
    # Round and clip here rather than let libsoxr write int16: its int16 output is dithered
    # from a time-based seed, so the same input would not give the same output twice.
    return np.clip(np.rint(samples), -32768, 32767).astype(np.int16)


class StreamResampler:
    """Resamples one continuous stream of mono int16 PCM from ``in_rate`` to ``out_rate``.

    Equal rates make it a pass-through (copies, no delay). After :meth:`flush` the object is
    ready for a new, unrelated stream.
    """

    def __init__(self, in_rate: int, out_rate: int, quality: str = "HQ") -> None:
        """``quality``: one of :data:`QUALITIES` (libsoxr presets)."""
        _check_rates(in_rate, out_rate)
        _check_quality(quality)
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.quality = quality
        self._stream: soxr.ResampleStream | None = self._new_stream()

    def _new_stream(self) -> soxr.ResampleStream | None:
        if self.in_rate == self.out_rate:
            return None
        return soxr.ResampleStream(
            self.in_rate, self.out_rate, 1, dtype="float32", quality=self.quality
        )

    @property
    def delay(self) -> float:
        """Output samples held back inside the resampler right now."""
        return 0.0 if self._stream is None else float(self._stream.delay())

    def process(self, pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        """Feed the next chunk; returns whatever output is ready (possibly none)."""
        pcm = _check_pcm(pcm)
        if self._stream is None:
            return pcm.copy()
        return _to_int16(self._stream.resample_chunk(_to_float(pcm)))

    def flush(self) -> npt.NDArray[np.int16]:
        """End the stream: returns the held-back tail and resets for a fresh stream."""
        if self._stream is None:
            return np.zeros(0, dtype=np.int16)
        out = _to_int16(self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
        # A new stream rather than clear(): nothing of the old stream can leak into the next.
        self._stream = self._new_stream()
        return out


def resample(
    pcm: npt.NDArray[np.int16], in_rate: int, out_rate: int, quality: str = "HQ"
) -> npt.NDArray[np.int16]:
    """Resample a whole mono int16 signal at once (no state; output aligned with input)."""
    _check_rates(in_rate, out_rate)
    _check_quality(quality)
    pcm = _check_pcm(pcm)
    if in_rate == out_rate:
        return pcm.copy()
    return _to_int16(soxr.resample(_to_float(pcm), in_rate, out_rate, quality=quality))
