"""Stand-ins for the diarizer's VAD (frame energy) and embedder (spectrum bands), for unit
tests of the code around them; tones of different pitch play different "speakers"."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from jiesu.engine.diarize.online import FRAME_SAMPLES

RATE = 16_000


class EnergyVad:
    """Probability 1 for 32 ms frames with RMS above a level, else 0 (streaming)."""

    def __init__(self) -> None:
        self._rest = np.zeros(0, dtype=np.float32)

    def feed(self, pcm: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        data = np.concatenate([self._rest, pcm])
        n = len(data) // FRAME_SAMPLES
        self._rest = data[n * FRAME_SAMPLES :]
        frames = data[: n * FRAME_SAMPLES].reshape(n, FRAME_SAMPLES)
        rms = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1))
        return (rms > 0.01).astype(np.float32)


class BandEmbedder:
    """Square roots of 32 spectrum band energies, unit length: tones far apart are orthogonal."""

    def __init__(self) -> None:
        self.calls = 0

    def embed_batch(self, windows: list[npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
        self.calls += len(windows)
        out = []
        for w in windows:
            spec = np.abs(np.fft.rfft(w, n=RATE)) ** 2  # 1 Hz bins
            bands = np.sqrt(spec[: 32 * 125].reshape(32, 125).sum(axis=1))
            out.append(bands / np.linalg.norm(bands))
        return np.asarray(out, dtype=np.float32)


def tone(freq: float, seconds: float) -> npt.NDArray[np.int16]:
    t = np.arange(int(seconds * RATE)) / RATE
    return (8000 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def silence(seconds: float) -> npt.NDArray[np.int16]:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


#: A (300 Hz) 0-4 s, pause, B (1500 Hz) 5-9 s, A again 9-12 s with no pause, silence.
SCENE = np.concatenate([tone(300, 4), silence(1), tone(1500, 4), tone(300, 3), silence(2.5)])
SCENE_TRUTH = [("S1", 0.0, 4.0), ("S2", 5.0, 9.0), ("S1", 9.0, 12.0)]
