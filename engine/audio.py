"""The one audio contract every ingest door produces: 20 ms (or other) PCM chunks per call leg."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: Rate every pipeline stage works at; doors resample to it.
PIPELINE_RATE_HZ = 16_000


class Leg(enum.StrEnum):
    """Which party an audio stream or transcript belongs to."""

    CALLER = "caller"
    AGENT = "agent"
    #: A mono recording with both parties mixed (speakers come from diarization).
    MIXED = "mixed"


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A run of PCM samples from one leg of one call.

    ``seq`` counts chunks per (call, leg) from 0 without gaps: a door that lost frames fills the
    gap with silence so that ``t_media_ms`` and the sample count stay consistent.
    """

    call_id: str
    leg: Leg
    seq: int
    #: Start of the chunk in ms from the start of the call's media.
    t_media_ms: int
    pcm: npt.NDArray[np.int16]
    rate: int = PIPELINE_RATE_HZ

    def __post_init__(self) -> None:
        if self.pcm.dtype != np.int16 or self.pcm.ndim != 1:
            raise ValueError("AudioChunk.pcm must be a 1-D int16 array")
        if self.rate <= 0:
            raise ValueError("AudioChunk.rate must be positive")

    @property
    def duration_ms(self) -> float:
        return 1000.0 * len(self.pcm) / self.rate
