"""Synthetic non-speech audio a hotline line carries: silence, line noise, ring-back, DTMF, music.

Used to check that the speech core emits no text where nobody speaks. Every generator is
deterministic (seeded) and returns 16 kHz int16 PCM. Tones follow the Chinese network's
signals: ring-back is 450 Hz, 1 s on and 4 s off; DTMF uses the ITU-T Q.23 frequency pairs.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

RATE = 16_000
Pcm = npt.NDArray[np.int16]

DTMF_FREQS = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
}  # fmt: skip


def _t(seconds: float) -> npt.NDArray[np.float64]:
    return np.arange(int(seconds * RATE)) / RATE


def _pcm(signal: npt.NDArray[np.float64], peak: float) -> Pcm:
    return np.clip(signal * peak, -32768, 32767).astype(np.int16)


def silence(seconds: float, seed: int = 0) -> Pcm:
    """Digital silence with the faint dither of a real line (about -80 dBFS)."""
    rng = np.random.default_rng(seed)
    return _pcm(rng.standard_normal(int(seconds * RATE)), 3.0)


def line_noise(seconds: float, seed: int = 1, level_dbfs: float = -40.0) -> Pcm:
    """Hiss plus 50 Hz mains hum, the usual background of an analogue trunk."""
    rng = np.random.default_rng(seed)
    t = _t(seconds)
    hiss = rng.standard_normal(len(t))
    hum = 0.5 * np.sin(2 * np.pi * 50 * t) + 0.2 * np.sin(2 * np.pi * 150 * t)
    return _pcm(hiss + hum, 32767 * 10 ** (level_dbfs / 20))


def ring_back(seconds: float) -> Pcm:
    """China's ring-back tone: 450 Hz, 1 s on, 4 s off."""
    t = _t(seconds)
    on = (t % 5.0) < 1.0
    return _pcm(np.sin(2 * np.pi * 450 * t) * on, 32767 * 10 ** (-10 / 20))


def dtmf(seconds: float, digits: str = "12345#0*9876", tone_s: float = 0.1) -> Pcm:
    """Key presses: each digit a dual tone for ``tone_s`` then as long a pause, repeated."""
    out = np.zeros(int(seconds * RATE))
    period = int(2 * tone_s * RATE)
    tone_t = _t(tone_s)
    for k, start in enumerate(range(0, len(out), period)):
        low, high = DTMF_FREQS[digits[k % len(digits)]]
        burst = 0.5 * (np.sin(2 * np.pi * low * tone_t) + np.sin(2 * np.pi * high * tone_t))
        end = min(start + len(burst), len(out))
        out[start:end] = burst[: end - start]
    return _pcm(out, 32767 * 10 ** (-8 / 20))


def hold_music(seconds: float, seed: int = 2) -> Pcm:
    """A slow arpeggio of triads with soft harmonics: music on hold, no voice."""
    rng = np.random.default_rng(seed)
    t = _t(seconds)
    chords = [
        (261.6, 329.6, 392.0),
        (220.0, 261.6, 329.6),
        (174.6, 220.0, 261.6),
        (196.0, 246.9, 293.7),
    ]
    out = np.zeros(len(t))
    note_s = 0.25
    for n, start in enumerate(range(0, len(t), int(note_s * RATE))):
        chord = chords[(n // 8) % len(chords)]
        freq = chord[n % 3] * (2 if rng.random() < 0.2 else 1)
        seg = t[: min(int(note_s * RATE), len(t) - start)]
        envelope = np.exp(-seg * 6)
        out[start : start + len(seg)] += envelope * (
            np.sin(2 * np.pi * freq * seg) + 0.3 * np.sin(2 * np.pi * 2 * freq * seg)
        )
    return _pcm(out, 32767 * 10 ** (-14 / 20))


def nonspeech_corpus(seconds_each: float) -> dict[str, Pcm]:
    """One clip of each kind; five kinds, so 120 s each makes the issue's 10 minutes."""
    return {
        "silence": silence(seconds_each),
        "line_noise": line_noise(seconds_each),
        "ring_back": ring_back(seconds_each),
        "dtmf": dtmf(seconds_each),
        "hold_music": hold_music(seconds_each),
    }
