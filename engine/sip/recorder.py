"""Optional recording of each leg to a 16 kHz mono WAV file, and the retention sweep.

Files are ``<directory>/<YYYYMMDD>/<call_id>-<leg>.wav``: no personal data in the name. The
sweep deletes recordings older than the retention period (by modification time).
"""

from __future__ import annotations

import logging
import time
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from jiesu.engine.audio import PIPELINE_RATE_HZ, Leg

log = logging.getLogger(__name__)


class LegRecorder:
    """Appends one leg's chunks to its WAV file; closed when the call ends."""

    def __init__(self, directory: Path, call_id: str, leg: Leg, now: float | None = None) -> None:
        day = time.strftime("%Y%m%d", time.localtime(time.time() if now is None else now))
        folder = directory / day
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{call_id}-{leg.value}.wav"
        # Kept open for the whole call and closed in close(); a context manager cannot span it.
        self._wav: wave.Wave_write | None = wave.open(str(self.path), "wb")  # noqa: SIM115
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(PIPELINE_RATE_HZ)

    def write(self, pcm: npt.NDArray[np.int16]) -> None:
        if self._wav is not None:
            self._wav.writeframes(pcm.astype("<i2").tobytes())

    def close(self) -> None:
        if self._wav is not None:
            self._wav.close()
            self._wav = None


def purge_old_recordings(directory: Path, retention_days: float, now: float) -> int:
    """Delete WAV files older than ``retention_days``; returns how many were removed."""
    if not directory.exists():
        return 0
    cutoff = now - retention_days * 86400
    removed = 0
    for path in directory.rglob("*.wav"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError as exc:
            log.warning("cannot remove old recording %s: %s", path.name, exc.strerror)
    for folder in sorted(directory.iterdir(), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return removed
