"""Which knowledge cards are on screen: replaced only by clearly better ones (no flicker).

A pure keeper of up to ``max_cards`` cards. Each update brings the retriever's latest hits:
a card already shown takes its new score (kept in its slot); a card not in the new hits fades
(its score times ``decay``); a new hit takes an empty slot when it reaches ``min_score`` (3: it
stands out from the other entries by three standard deviations; a greeting such as 喂你好 peaks
at 2.9 on the demo KB), or the weakest card's slot when it beats that card by ``margin``. The result is the cards in slot
order, so a screen that redraws them sees the same card in the same place until it is replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from jiesu.engine.assist.knowledge.retriever import KnowledgeHit


class SuggestionTracker:
    def __init__(
        self,
        max_cards: int = 3,
        min_score: float = 3.0,
        margin: float = 1.0,
        decay: float = 0.9,
    ) -> None:
        self.max_cards = max_cards
        self.min_score = min_score
        self.margin = margin
        self.decay = decay
        self._cards: list[KnowledgeHit] = []

    @property
    def cards(self) -> tuple[KnowledgeHit, ...]:
        return tuple(self._cards)

    def update(self, hits: Sequence[KnowledgeHit]) -> list[KnowledgeHit]:
        """Fold in the latest hits; returns the cards to show (slot order)."""
        latest = {h.entry_id: h for h in hits}
        cards = []
        for card in self._cards:
            fresh = latest.get(card.entry_id)
            cards.append(
                fresh if fresh is not None else replace(card, score=card.score * self.decay)
            )
        shown = {c.entry_id for c in cards}
        for hit in sorted(hits, key=lambda h: -h.score):
            if hit.entry_id in shown or hit.score < self.min_score:
                continue
            if len(cards) < self.max_cards:
                cards.append(hit)
                shown.add(hit.entry_id)
                continue
            weakest = min(range(len(cards)), key=lambda i: cards[i].score)
            if hit.score >= cards[weakest].score + self.margin:
                shown.discard(cards[weakest].entry_id)
                cards[weakest] = hit
                shown.add(hit.entry_id)
        self._cards = cards
        return list(cards)
