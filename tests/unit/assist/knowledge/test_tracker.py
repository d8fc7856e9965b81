"""Knowledge cards do not flicker: replaced only by clearly better ones, slots kept."""

from __future__ import annotations

from jiesu.engine.assist.knowledge.retriever import KnowledgeHit
from jiesu.engine.assist.knowledge.tracker import SuggestionTracker


def hit(entry_id: str, score: float) -> KnowledgeHit:
    return KnowledgeHit(entry_id, "1.0", entry_id, "…", score, ())


def ids(cards: list[KnowledgeHit]) -> list[str]:
    return [c.entry_id for c in cards]


def test_weak_hits_are_not_shown() -> None:
    tracker = SuggestionTracker(min_score=2.0)
    assert tracker.update([hit("A", 1.5), hit("B", 0.3)]) == []


def test_cards_fill_empty_slots_best_first() -> None:
    tracker = SuggestionTracker(max_cards=2)
    assert ids(tracker.update([hit("B", 3.0), hit("A", 5.0), hit("C", 2.5)])) == ["A", "B"]


def test_a_slightly_better_hit_does_not_replace_a_card() -> None:
    tracker = SuggestionTracker(max_cards=1, margin=1.0)
    tracker.update([hit("A", 4.0)])
    assert ids(tracker.update([hit("B", 4.5), hit("A", 4.0)])) == ["A"]


def test_a_clearly_better_hit_replaces_the_weakest_card_in_its_slot() -> None:
    tracker = SuggestionTracker(max_cards=3, margin=1.0)
    assert ids(tracker.update([hit("A", 6.0), hit("B", 3.0), hit("C", 4.0)])) == ["A", "C", "B"]
    cards = tracker.update([hit("A", 6.0), hit("B", 3.0), hit("C", 4.0), hit("D", 5.5)])
    assert ids(cards) == ["A", "C", "D"]  # D takes B's slot


def test_cards_missing_from_new_hits_fade_and_are_eventually_replaced() -> None:
    tracker = SuggestionTracker(max_cards=1, margin=1.0, decay=0.6)
    tracker.update([hit("A", 4.0)])
    assert ids(tracker.update([hit("B", 3.0)])) == ["A"]  # A fades to 2.4; 3.0 < 2.4 + 1.0
    cards = tracker.update([hit("B", 3.0)])  # A fades to 1.44; 3.0 >= 1.44 + 1.0
    assert ids(cards) == ["B"]


def test_a_shown_card_takes_its_fresh_score() -> None:
    tracker = SuggestionTracker(max_cards=2)
    tracker.update([hit("A", 3.0)])
    cards = tracker.update([hit("A", 7.0)])
    assert cards[0].score == 7.0 and len(cards) == 1
