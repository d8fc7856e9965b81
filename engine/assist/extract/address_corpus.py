"""The address corpus format (one token and its BIO tag a line, a blank line between addresses),
entity spans from BIO tags, and entity-level precision/recall/F1 per label.

Pure: the reader takes lines, the scorer takes tag sequences.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LabelledAddress:
    """One address: its tokens and their BIO tags (same length)."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]


class CorpusError(ValueError):
    """A line of the corpus is not ``TOKEN TAG``; names the line number."""


def read_corpus(lines: Iterable[str]) -> list[LabelledAddress]:
    """Parse the corpus; raises :class:`CorpusError` naming the first malformed line."""
    out: list[LabelledAddress] = []
    tokens: list[str] = []
    tags: list[str] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            if tokens:
                out.append(LabelledAddress(tuple(tokens), tuple(tags)))
                tokens, tags = [], []
            continue
        parts = line.split()
        if len(parts) != 2 or not (parts[1] == "O" or parts[1][:2] in ("B-", "I-")):
            raise CorpusError(f"line {number}: expected 'TOKEN B-label|I-label|O', got {line!r}")
        tokens.append(parts[0])
        tags.append(parts[1])
    if tokens:
        out.append(LabelledAddress(tuple(tokens), tuple(tags)))
    return out


def spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entities (label, start, end) in token positions, end exclusive.

    An ``I-x`` that does not continue an ``x`` entity starts a new one (the CoNLL convention).
    """
    out: list[tuple[str, int, int]] = []
    label: str | None = None
    start = 0
    for i, tag in enumerate(tags):
        kind, _, name = tag.partition("-")
        if kind == "I" and name == label:
            continue
        if label is not None:
            out.append((label, start, i))
        label, start = (name, i) if kind in ("B", "I") else (None, i)
    if label is not None:
        out.append((label, start, len(tags)))
    return out


@dataclass(frozen=True, slots=True)
class LabelScore:
    """Entity-level counts and scores of one label (or of all labels together)."""

    precision: float
    recall: float
    f1: float
    support: int


def _score(tp: int, n_pred: int, n_gold: int) -> LabelScore:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return LabelScore(round(p, 4), round(r, 4), round(f, 4), n_gold)


def entity_scores(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]
) -> tuple[LabelScore, dict[str, LabelScore]]:
    """Overall (micro) and per-label entity-level scores: an entity counts when label and
    both boundaries match exactly."""
    tp: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    for g_tags, p_tags in zip(gold, predicted, strict=True):
        g = set(spans(g_tags))
        p = set(spans(p_tags))
        for label, _, _ in g:
            n_gold[label] += 1
        for label, _, _ in p:
            n_pred[label] += 1
        for label, _, _ in g & p:
            tp[label] += 1
    per_label = {
        label: _score(tp[label], n_pred[label], n_gold[label])
        for label in sorted(set(n_gold) | set(n_pred))
    }
    overall = _score(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    return overall, per_label
