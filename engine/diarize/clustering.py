"""Online clustering of speaker embeddings with labels that are never renamed.

Each speaker is a running centroid (sum of the unit embeddings assigned to it). A window whose
best cosine similarity to every centroid is below ``new_speaker_threshold`` becomes a
*candidate*; the next such window that agrees with it (similarity to the candidate at least the
threshold) confirms a new speaker from both, so one odd window (a cough, two voices at once)
does not create a speaker. Speakers are numbered in creation order and an index, once handed
out, always means the same speaker: centroids are never merged or relabelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Assignment", "ClusterConfig", "OnlineClusterer"]


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """Knobs of :class:`OnlineClusterer` (cosine similarities of unit embeddings)."""

    #: Below this similarity to every speaker a window is a new-speaker candidate.
    new_speaker_threshold: float = 0.5
    #: Only windows at least this similar to their speaker move its centroid.
    update_threshold: float = 0.5
    max_speakers: int = 4
    #: Whether a new speaker needs a second agreeing window (otherwise one window makes one).
    confirm_new: bool = True

    def __post_init__(self) -> None:
        if not -1.0 <= self.new_speaker_threshold <= 1.0:
            raise ValueError("new_speaker_threshold must be a cosine similarity in [-1, 1]")
        if self.max_speakers < 1:
            raise ValueError("max_speakers must be at least 1")


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where one window went: ``speaker`` index (0-based) or ``None`` while it is pending."""

    window: int
    speaker: int | None
    similarity: float


class OnlineClusterer:
    """Sans-I/O online clusterer: ``add(embedding)`` returns the windows resolved by it.

    Usually that is the window just added; a candidate window is resolved one call later
    (with the window that confirms or refutes it). :meth:`flush` resolves a pending candidate.
    """

    def __init__(self, config: ClusterConfig | None = None) -> None:
        self.config = config if config is not None else ClusterConfig()
        self._sums: list[npt.NDArray[np.float64]] = []
        self._counts: list[int] = []
        self._next_window = 0
        self._pending: tuple[int, npt.NDArray[np.float64]] | None = None

    @property
    def n_speakers(self) -> int:
        return len(self._sums)

    def centroids(self) -> npt.NDArray[np.float64]:
        """Unit centroids, one row per speaker (creation order)."""
        if not self._sums:
            return np.zeros((0, 0))
        stacked = np.stack(self._sums)
        unit: npt.NDArray[np.float64] = stacked / np.maximum(
            np.linalg.norm(stacked, axis=1, keepdims=True), 1e-12
        )
        return unit

    def add(self, embedding: npt.NDArray[np.floating]) -> list[Assignment]:
        """Take one window's embedding; return the assignments that became known."""
        vec = np.asarray(embedding, dtype=np.float64).ravel()
        norm = float(np.linalg.norm(vec))
        if not np.isfinite(norm) or norm == 0.0:
            raise ValueError("embedding must be finite and non-zero")
        vec = vec / norm
        window = self._next_window
        self._next_window += 1
        cfg = self.config
        best, sim = self._best(vec)
        out: list[Assignment] = []
        if not self._sums:
            self._create(vec)
            return [Assignment(window, 0, 1.0)]
        if sim >= cfg.new_speaker_threshold or self.n_speakers >= cfg.max_speakers:
            out.extend(self._resolve_pending())
            out.append(self._assign(window, vec, best, sim))
            return out
        # Unlike every speaker we know.
        if not cfg.confirm_new:
            out.extend(self._resolve_pending())
            self._create(vec)
            out.append(Assignment(window, self.n_speakers - 1, 1.0))
            return out
        if self._pending is not None:
            p_window, p_vec = self._pending
            agree = float(p_vec @ vec)
            if agree >= cfg.new_speaker_threshold:
                self._pending = None
                self._create(p_vec)
                self._sums[-1] = self._sums[-1] + vec
                self._counts[-1] += 1
                new = self.n_speakers - 1
                return [Assignment(p_window, new, agree), Assignment(window, new, agree)]
            out.extend(self._resolve_pending())
        self._pending = (window, vec)
        return out

    def flush(self) -> list[Assignment]:
        """Resolve a pending candidate (to its nearest speaker) at the end of the stream."""
        return self._resolve_pending()

    def _best(self, vec: npt.NDArray[np.float64]) -> tuple[int, float]:
        if not self._sums:
            return -1, -1.0
        sims = self.centroids() @ vec
        best = int(np.argmax(sims))
        return best, float(sims[best])

    def _create(self, vec: npt.NDArray[np.float64]) -> None:
        self._sums.append(vec.copy())
        self._counts.append(1)

    def _assign(
        self, window: int, vec: npt.NDArray[np.float64], best: int, sim: float
    ) -> Assignment:
        if sim >= self.config.update_threshold:
            self._sums[best] = self._sums[best] + vec
            self._counts[best] += 1
        return Assignment(window, best, sim)

    def _resolve_pending(self) -> list[Assignment]:
        if self._pending is None:
            return []
        p_window, p_vec = self._pending
        self._pending = None
        best, sim = self._best(p_vec)
        # A lone unlike window joins its nearest speaker without moving the centroid.
        return [Assignment(p_window, best, sim)]
