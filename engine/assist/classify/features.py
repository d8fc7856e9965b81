"""Character n-gram TF-IDF, written out so that inference needs numpy only.

Chinese has no spaces; character 1-3 grams carry most of the lexical signal of a short message
(社保, 公积金, 噪音扰民) without a segmenter. Sublinear term frequency (1 + ln tf), smoothed idf
(ln((1 + n) / (1 + df)) + 1) and L2 normalisation, the usual recipe.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_SPACES = re.compile(r"\s+")


def char_ngrams(text: str, min_n: int = 1, max_n: int = 3) -> Counter[str]:
    """Counts of the character n-grams of ``text`` (lower-cased, runs of white space as one)."""
    cleaned = _SPACES.sub(" ", text.lower()).strip()
    grams: Counter[str] = Counter()
    for n in range(min_n, max_n + 1):
        for i in range(len(cleaned) - n + 1):
            grams[cleaned[i : i + n]] += 1
    return grams


@dataclass(frozen=True, slots=True)
class SparseRow:
    """One document: feature indices and their (normalised) weights."""

    indices: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


@dataclass(frozen=True)
class CharTfidf:
    """A fitted vocabulary (n-gram -> column) with its idf weights."""

    vocabulary: Mapping[str, int]
    idf: npt.NDArray[np.float64]
    min_n: int = 1
    max_n: int = 3

    @classmethod
    def fit(
        cls, texts: Iterable[str], min_n: int = 1, max_n: int = 3, min_df: int = 1
    ) -> CharTfidf:
        docs = [char_ngrams(t, min_n, max_n) for t in texts]
        df: Counter[str] = Counter()
        for grams in docs:
            df.update(grams.keys())
        kept = sorted(g for g, c in df.items() if c >= min_df)
        n = len(docs)
        idf = np.array([math.log((1 + n) / (1 + df[g])) + 1.0 for g in kept], dtype=np.float64)
        return cls({g: i for i, g in enumerate(kept)}, idf, min_n, max_n)

    @property
    def size(self) -> int:
        return len(self.vocabulary)

    def row(self, text: str) -> SparseRow:
        grams = char_ngrams(text, self.min_n, self.max_n)
        pairs = sorted(
            (self.vocabulary[g], (1.0 + math.log(c)))
            for g, c in grams.items()
            if g in self.vocabulary
        )
        if not pairs:
            return SparseRow(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
        idx = np.array([p[0] for p in pairs], dtype=np.int64)
        val = np.array([p[1] for p in pairs], dtype=np.float64) * self.idf[idx]
        norm = float(np.linalg.norm(val))
        return SparseRow(idx, val / norm if norm > 0 else val)

    def rows(self, texts: Sequence[str]) -> list[SparseRow]:
        return [self.row(t) for t in texts]


def sparse_scores(
    row: SparseRow, weights: npt.NDArray[np.floating], bias: npt.NDArray[np.floating]
) -> npt.NDArray[np.float64]:
    """Linear scores ``weights[:, idx] @ values + bias`` for one sparse row."""
    scores = weights[:, row.indices].astype(np.float64) @ row.values
    return np.asarray(scores + bias, dtype=np.float64)
