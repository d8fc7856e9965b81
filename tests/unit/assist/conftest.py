"""Test doubles: a deterministic bag-of-bigrams embedder (hashing trick, L2-normalised)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest


class HashEmbedder:
    dim = 64

    def _one(self, text: str) -> npt.NDArray[np.float32]:
        v = np.zeros(self.dim, dtype=np.float32)
        for i in range(len(text) - 1):
            h = int.from_bytes(hashlib.md5(text[i : i + 2].encode()).digest()[:4], "little")
            v[h % self.dim] += 1.0
        n = float(np.linalg.norm(v))
        return v / n if n else v

    def query(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return (
            np.stack([self._one(t) for t in texts])
            if texts
            else np.zeros((0, self.dim), np.float32)
        )

    def passage(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return self.query(texts)


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()
