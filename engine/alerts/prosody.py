"""Acoustic prosody of one utterance, normalised against the caller's own first seconds.

Pure functions over 16 kHz int16 PCM (no model, nothing to install):

* pitch: YIN (cumulative mean normalised difference, absolute threshold, parabolic refinement)
  on 25 ms windows every 10 ms, 70-400 Hz;
* energy: RMS level per frame in dB relative to full scale;
* pauses: runs of frames more than ``pause_db`` below the utterance's loud frames, at least
  ``min_pause_ms`` long;
* speaking rate: characters per second of speech, from the ASR's text and timings.

People differ (a deep calm voice, a naturally fast talker), so :class:`ProsodyBaseline` learns
each caller's own pitch, level and rate from their first ``baseline_s`` seconds of voiced speech,
and :func:`arousal` scores later utterances by how far they move from it: higher pitch, louder,
faster, wider pitch range point to anger or fear; quieter, slower, lower to sadness.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

RATE_HZ = 16_000
FRAME = 400  # 25 ms
HOP = 160  # 10 ms
F0_MIN, F0_MAX = 70.0, 400.0
YIN_THRESHOLD = 0.15
#: Frames quieter than this (dBFS) are never voiced: line noise, not speech.
SILENCE_DBFS = -50.0

_SPOKEN = re.compile(r"[0-9A-Za-z\u3400-\u4dbf\u4e00-\u9fff]")


@dataclass(frozen=True, slots=True)
class Prosody:
    """Raw prosodic measures of one utterance (NaN where not measurable)."""

    duration_s: float
    voiced_ratio: float
    f0_median_hz: float
    #: Spread of pitch, p90 over p10, in semitones.
    f0_range_st: float
    #: Mean level of the voiced frames (dBFS).
    level_db: float
    n_pauses: int
    pause_ratio: float
    #: Spoken characters per second (NaN without text).
    chars_per_s: float


def _frames(pcm: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    width = FRAME + int(RATE_HZ / F0_MIN) + 1
    n = 1 + max(0, (len(pcm) - width) // HOP)
    if len(pcm) < width:
        pcm = np.pad(pcm, (0, width - len(pcm)))
    idx = np.arange(width)[None, :] + HOP * np.arange(n)[:, None]
    out: npt.NDArray[np.float32] = pcm[idx]
    return out


def yin_pitch(frames: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """F0 in Hz per frame (0 where unvoiced); frames are FRAME + max-lag samples long."""
    max_lag = int(RATE_HZ / F0_MIN)
    min_lag = int(RATE_HZ / F0_MAX)
    x = frames.astype(np.float64)
    # d(tau) = sum_j (x_j - x_{j+tau})^2 over the first FRAME samples, via FFT correlation.
    size = 1 << math.ceil(math.log2(x.shape[1] * 2))
    spec = np.fft.rfft(x, size)
    head = np.fft.rfft(x[:, :FRAME], size)
    cross = np.fft.irfft(np.conj(head) * spec, size)[:, : max_lag + 1]
    sq = np.cumsum(x**2, axis=1)
    energy0 = sq[:, FRAME - 1]
    lags = np.arange(max_lag + 1)
    shifted = sq[:, lags + FRAME - 1] - np.where(lags > 0, sq[:, np.maximum(lags - 1, 0)], 0.0)
    diff = energy0[:, None] + shifted - 2.0 * cross
    diff[:, 0] = 0.0
    cum = np.cumsum(diff[:, 1:], axis=1) / np.arange(1, max_lag + 1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] / np.maximum(cum, 1e-12)
    f0 = np.zeros(len(x))
    for i, row in enumerate(cmnd):
        below = np.nonzero(row[min_lag:max_lag] < YIN_THRESHOLD)[0]
        if len(below) == 0:
            continue
        tau = int(below[0]) + min_lag
        while tau + 1 < max_lag and row[tau + 1] < row[tau]:
            tau += 1
        a, b, c = row[tau - 1], row[tau], row[tau + 1]
        denom = a - 2 * b + c
        shift = 0.5 * (a - c) / denom if abs(denom) > 1e-12 else 0.0
        f0[i] = RATE_HZ / (tau + max(-1.0, min(1.0, shift)))
    return f0


def spoken_chars(text: str) -> int:
    """Characters that take time to say: Chinese characters, letters and digits."""
    return len(_SPOKEN.findall(text))


def measure(
    pcm: npt.NDArray[np.int16],
    text: str = "",
    speech_ms: float | None = None,
    pause_db: float = 25.0,
    min_pause_ms: int = 200,
) -> Prosody:
    """Prosody of one utterance's PCM (16 kHz). ``speech_ms``: the ASR's duration, if known."""
    x = pcm.astype(np.float32) / 32768.0
    duration_s = len(x) / RATE_HZ
    if len(x) < FRAME:
        return Prosody(duration_s, 0.0, math.nan, math.nan, math.nan, 0, 0.0, math.nan)
    frames = _frames(x)
    rms = np.sqrt(np.mean(frames[:, :FRAME].astype(np.float64) ** 2, axis=1))
    db = 20.0 * np.log10(np.maximum(rms, 1e-6))
    f0 = yin_pitch(frames)
    voiced = (f0 > 0) & (db > SILENCE_DBFS)
    loud = float(np.percentile(db, 90))
    quiet = db < max(SILENCE_DBFS, loud - pause_db)
    n_pauses, run = 0, 0
    for q in np.append(quiet, False):
        if q:
            run += 1
            continue
        if run * HOP * 1000 // RATE_HZ >= min_pause_ms:
            n_pauses += 1
        run = 0
    pitch = f0[voiced]
    median = float(np.median(pitch)) if len(pitch) >= 5 else math.nan
    spread = (
        12.0 * math.log2(float(np.percentile(pitch, 90)) / float(np.percentile(pitch, 10)))
        if len(pitch) >= 5
        else math.nan
    )
    level = float(np.mean(db[voiced])) if voiced.any() else math.nan
    spoken_s = (speech_ms / 1000.0 if speech_ms else duration_s) * (1.0 - float(quiet.mean()))
    chars = spoken_chars(text)
    rate = chars / spoken_s if chars and spoken_s > 0.2 else math.nan
    return Prosody(
        duration_s, float(voiced.mean()), median, spread, level, n_pauses, float(quiet.mean()), rate
    )


@dataclass(frozen=True, slots=True)
class ProsodyBaseline:
    """A caller's own reference: voiced-time-weighted means over their first seconds."""

    baseline_s: float = 15.0
    voiced_s: float = 0.0
    log_f0: float = 0.0
    level_db: float = 0.0
    range_st: float = 0.0
    rate: float = 0.0
    rate_s: float = 0.0

    @property
    def ready(self) -> bool:
        """True once a few seconds of voiced speech were heard (the reference is usable)."""
        return self.voiced_s >= min(3.0, self.baseline_s)

    def update(self, p: Prosody) -> ProsodyBaseline:
        """Fold one utterance in while the baseline window is still open; unchanged after."""
        if self.voiced_s >= self.baseline_s or math.isnan(p.f0_median_hz):
            return self
        w = p.duration_s * p.voiced_ratio
        total = self.voiced_s + w
        if w <= 0:
            return self

        def mix(old: float, new: float) -> float:
            return old if math.isnan(new) else (old * self.voiced_s + new * w) / total

        rate, rate_s = self.rate, self.rate_s
        if not math.isnan(p.chars_per_s):
            rate = (rate * rate_s + p.chars_per_s * w) / (rate_s + w)
            rate_s += w
        return replace(
            self,
            voiced_s=total,
            log_f0=mix(self.log_f0, math.log2(p.f0_median_hz)),
            level_db=mix(self.level_db, p.level_db),
            range_st=mix(self.range_st, p.f0_range_st),
            rate=rate,
            rate_s=rate_s,
        )


@dataclass(frozen=True, slots=True)
class ProsodyDelta:
    """One utterance against the caller's baseline (0 where either side is unknown)."""

    pitch_st: float
    level_db: float
    range_st: float
    rate_ratio: float

    def describe(self) -> str:
        """Short human reason, e.g. ``音高+3.2半音 音量+6dB 语速×1.4``."""
        parts = []
        if abs(self.pitch_st) >= 1.0:
            parts.append(f"音高{self.pitch_st:+.1f}半音")
        if abs(self.level_db) >= 3.0:
            parts.append(f"音量{self.level_db:+.0f}dB")
        if abs(self.rate_ratio - 1.0) >= 0.15:
            parts.append(f"语速×{self.rate_ratio:.2f}")
        if abs(self.range_st) >= 2.0:
            parts.append(f"音域{self.range_st:+.1f}半音")
        return " ".join(parts)


def delta(p: Prosody, base: ProsodyBaseline) -> ProsodyDelta:
    """How far an utterance moved from the caller's baseline."""
    if not base.ready:
        return ProsodyDelta(0.0, 0.0, 0.0, 1.0)

    def safe(value: float) -> float:
        return 0.0 if math.isnan(value) else value

    pitch = safe(12.0 * (math.log2(p.f0_median_hz) - base.log_f0)) if p.f0_median_hz > 0 else 0.0
    rate = p.chars_per_s / base.rate if base.rate > 0 and not math.isnan(p.chars_per_s) else 1.0
    return ProsodyDelta(
        pitch, safe(p.level_db - base.level_db), safe(p.f0_range_st - base.range_st), rate
    )


def arousal(d: ProsodyDelta) -> float:
    """Acoustic arousal in [0, 1]; 0.5 is the caller's own baseline.

    A logistic of the summed deviations, each scaled by what a listener would call a clear
    change: 3 semitones of pitch, 6 dB of level, 40 % faster speech, 4 semitones wider range.
    """
    z = d.pitch_st / 3.0 + d.level_db / 6.0 + (d.rate_ratio - 1.0) / 0.4 + d.range_st / 4.0
    return 1.0 / (1.0 + math.exp(-z))
