"""Barge-in: when the caller's own speech should stop a prompt, pure and frame by frame.

Per 20 ms frame of the caller's leg (8 kHz int16) the detector gets the VAD's speech
probability and the audio Jiesu played to the caller (the reference, on the same media clock).
A frame counts as the caller speaking when the VAD says speech **and** the frame is not the
prompt's echo: the caller's phone returns the prompt delayed and attenuated, which a VAD takes
for speech. Echo is told apart by the normalised cross-correlation of the frame with the
reference over ``max_echo_delay_ms`` of delays, then a short filter fitted around the best
delay: an echo is a delayed, filtered copy that the fit explains almost entirely, even through
G.711; the caller's own voice is not. A noise the VAD takes for speech (a cough, a burst of
line noise) is told apart by periodicity: a voice has a pitch, so the normalised
autocorrelation of the last 40 ms peaks high at some lag of 2.5-12.5 ms (400-80 Hz); noise
does not. Playback stops once
``min_speech_ms`` of such frames fall within the last ``window_ms``: a cough or a click is
shorter, so it does not stop the prompt, and steady speech stops it ``min_speech_ms`` after its
onset (plus the VAD's own delay).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Pcm = npt.NDArray[np.int16]
RATE = 8000
FRAME = RATE // 50
#: The echo path's filter: taps around the best delay (a handset's echo is not a pure delay).
_TAPS_BEFORE = 3
_TAPS_AFTER = 4


@dataclass(frozen=True, slots=True)
class BargeInSettings:
    speech_threshold: float = 0.5
    min_speech_ms: int = 120
    window_ms: int = 300
    max_echo_delay_ms: int = 300
    #: Share of a frame's energy the (filtered, delayed) prompt must explain for the frame to
    #: be taken for echo: a caller speaking over the prompt is well above its echo (handsets
    #: return it 20 dB down or more), so their frames are explained far less.
    echo_explained: float = 0.7
    #: What the echo does not explain must be this loud (RMS, dB below full scale) to be a
    #: voice: quieter is line and G.711 noise, which a VAD sometimes takes for speech.
    min_voice_dbfs: float = -45.0
    #: Lowest pitch-lag autocorrelation of a voice frame (chosen on the test clip's speech,
    #: 5th percentile 0.38, against noise bursts, at most 0.18: ``docs/voice.md``).
    min_periodicity: float = 0.3


@dataclass(slots=True)
class BargeInDetector:
    """One prompt's playback on one call: :meth:`push` each caller frame with the VAD's speech
    probability and the frame played at the same media time; True once the caller barged in."""

    settings: BargeInSettings = field(default_factory=BargeInSettings)
    _reference: Pcm = field(init=False)
    _recent: deque[bool] = field(init=False)
    _previous: Pcm = field(init=False)
    triggered: bool = field(init=False, default=False)
    #: Frames the VAD called speech that were taken for echo (for the metrics).
    echo_frames: int = field(init=False, default=0)
    #: Frames the VAD called speech that had no pitch (noise, a cough).
    noise_frames: int = field(init=False, default=0)
    #: Whether the frame last pushed was the caller's sound (speech the echo does not explain,
    #: voiced or not).
    last_was_voice: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        history = self.settings.max_echo_delay_ms * RATE // 1000 + FRAME
        self._reference = np.zeros(history, np.int16)
        self._recent = deque(maxlen=max(1, self.settings.window_ms // 20))
        self._previous = np.zeros(FRAME, np.int16)

    def push(self, caller: Pcm, speech_prob: float, played: Pcm) -> bool:
        """One 20 ms frame; returns whether playback must stop (stays True once it is)."""
        if len(caller) != FRAME or len(played) != FRAME:
            raise ValueError(f"frames are {FRAME} samples (20 ms at {RATE} Hz)")
        self._reference = np.concatenate((self._reference[FRAME:], played))
        speaking = speech_prob >= self.settings.speech_threshold
        if speaking and not self.is_callers_voice(caller):
            self.echo_frames += 1
            speaking = False
        # Echo silencing lets through all the caller's sound (unvoiced consonants included);
        # only a voiced frame counts towards stopping the prompt.
        self.last_was_voice = speaking
        recent = np.concatenate((self._previous, caller))
        self._previous = caller
        if speaking and periodicity(recent) < self.settings.min_periodicity:
            self.noise_frames += 1
            speaking = False
        self._recent.append(speaking)
        needed = max(1, self.settings.min_speech_ms // 20)
        if sum(self._recent) >= needed:
            self.triggered = True
        return self.triggered

    def is_callers_voice(self, caller: Pcm) -> bool:
        """What the played audio (delayed, filtered) does not explain of the frame is loud
        enough to be a voice, and is most of the frame: the best delay by correlation, then a
        short filter around it fitted by least squares."""
        frame = caller.astype(np.float64)
        energy = float(frame @ frame)
        if energy == 0.0:
            return False
        # Every window of FRAME samples of the reference, one per delay (oldest first).
        reference = self._reference.astype(np.float64)
        windows = np.lib.stride_tricks.sliding_window_view(reference, FRAME)
        norms = np.sqrt(np.einsum("ij,ij->i", windows, windows))
        residual = frame
        if np.any(norms > 0):
            best = int(np.argmax(np.abs(windows @ frame) / np.maximum(norms, 1e-9)))
            taps = windows[max(0, best - _TAPS_BEFORE) : best + _TAPS_AFTER + 1].T
            weights, *_ = np.linalg.lstsq(taps, frame, rcond=None)
            residual = frame - taps @ weights
        unexplained = float(residual @ residual)
        level_dbfs = 10 * np.log10(unexplained / len(frame) / 32768.0**2 + 1e-20)
        explained = 1.0 - unexplained / energy
        return (
            level_dbfs >= self.settings.min_voice_dbfs and explained < self.settings.echo_explained
        )


def periodicity(pcm: Pcm) -> float:
    """Peak normalised autocorrelation of ``pcm`` over pitch lags of 80-400 Hz (0..1)."""
    x = pcm.astype(np.float64)
    x = x - x.mean()
    lags = np.arange(RATE // 400, RATE // 80 + 1)
    products = np.correlate(x, x, "full")[len(x) - 1 + lags]  # sum of x[t] * x[t + lag]
    energy = np.concatenate(([0.0], np.cumsum(x * x)))
    head = energy[len(x) - lags]  # x[:-lag] @ x[:-lag]
    tail = energy[-1] - energy[lags]  # x[lag:] @ x[lag:]
    norms = np.sqrt(head * tail)
    valid = norms > 0.0
    if not valid.any():
        return 0.0
    return float(max(0.0, (products[valid] / norms[valid]).max()))
