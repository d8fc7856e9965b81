"""Knowledge suggestions: the knowledge-base format, hybrid retrieval on the running
conversation, and the card tracker that keeps the screen steady."""

from jiesu.engine.assist.knowledge.base import KnowledgeBase, KnowledgeEntry, KnowledgeFormatError
from jiesu.engine.assist.knowledge.retriever import HybridRetriever, KnowledgeHit
from jiesu.engine.assist.knowledge.tracker import SuggestionTracker

__all__ = [
    "HybridRetriever",
    "KnowledgeBase",
    "KnowledgeEntry",
    "KnowledgeFormatError",
    "KnowledgeHit",
    "SuggestionTracker",
]
