"""Okapi BM25 over jieba words plus character bigrams (a small pure index).

Words carry meaning (公积金, 提取); bigrams catch what the segmenter splits differently between a
spoken query and a written answer, and ASR near-misses. Stop characters are dropped.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_STOP = frozenset(
    "的了是我们你您在和对有与及为这那也就都而且或被把给从向于以之其等吗呢啊吧嗯哦呀么个"
    "，。！？、；：“”‘’（）《》〈〉【】…—·,.!?;:()[]\"' \n\t\r"
)


def _jieba_words(text: str) -> list[str]:
    import jieba  # type: ignore[import-untyped]

    jieba.setLogLevel(60)
    return [w for w in jieba.lcut(text) if w.strip() and not all(c in _STOP for c in w)]


def terms(text: str) -> list[str]:
    """Index terms of ``text``: jieba words (prefixed ``w:``) and character bigrams."""
    lowered = text.lower()
    words = [f"w:{w}" for w in _jieba_words(lowered)]
    chars = [c for c in lowered if c not in _STOP]
    bigrams = ["".join(chars[i : i + 2]) for i in range(len(chars) - 1)]
    return words + bigrams


@dataclass(frozen=True)
class Bm25Index:
    doc_terms: tuple[Counter[str], ...]
    lengths: npt.NDArray[np.float64]
    idf: dict[str, float]
    k1: float = 1.2
    b: float = 0.75

    @classmethod
    def build(cls, documents: Sequence[str], k1: float = 1.2, b: float = 0.75) -> Bm25Index:
        docs = tuple(Counter(terms(d)) for d in documents)
        df: Counter[str] = Counter()
        for d in docs:
            df.update(d.keys())
        n = len(docs)
        idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        lengths = np.array([sum(d.values()) for d in docs], dtype=np.float64)
        return cls(docs, lengths, idf, k1, b)

    def scores(self, query: str) -> npt.NDArray[np.float64]:
        """BM25 of every document for ``query`` (query terms counted once)."""
        out = np.zeros(len(self.doc_terms))
        avg = float(self.lengths.mean()) if len(self.lengths) else 1.0
        norm = self.k1 * (1 - self.b + self.b * self.lengths / max(avg, 1e-9))
        for term in set(terms(query)):
            idf = self.idf.get(term)
            if idf is None:
                continue
            tf = np.array([d.get(term, 0) for d in self.doc_terms], dtype=np.float64)
            out += idf * tf * (self.k1 + 1) / (tf + norm)
        return out
