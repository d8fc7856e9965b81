"""The address corpus reader, BIO spans, entity scoring and the CRF features (no model)."""

from __future__ import annotations

import pytest

from jiesu.engine.assist.extract.address_corpus import (
    CorpusError,
    entity_scores,
    read_corpus,
    spans,
)
from jiesu.engine.assist.extract.address_features import sequence_features, tokenize
from jiesu.engine.train.address import build_gazetteer, spoken_copy

SAMPLE = """浙 B-prov
江 I-prov
省 I-prov
杭 B-city
州 I-city
市 I-city
文 B-road
三 I-road
路 I-road
602 B-roadno
号 I-roadno

西 B-district
湖 I-district
区 I-district
"""


def test_read_corpus() -> None:
    corpus = read_corpus(SAMPLE.splitlines())
    assert len(corpus) == 2
    assert corpus[0].tokens[9] == "602"
    assert spans(corpus[0].tags) == [
        ("prov", 0, 3),
        ("city", 3, 6),
        ("road", 6, 9),
        ("roadno", 9, 11),
    ]


def test_malformed_line_is_named() -> None:
    with pytest.raises(CorpusError, match="line 2"):
        read_corpus(["浙 B-prov", "江"])


def test_stray_inside_tag_starts_an_entity() -> None:
    assert spans(["O", "I-poi", "I-poi", "B-roomno"]) == [("poi", 1, 3), ("roomno", 3, 4)]


def test_entity_scores_need_exact_boundaries() -> None:
    gold = [["B-city", "I-city", "B-road", "I-road"]]
    pred = [["B-city", "I-city", "B-road", "B-road"]]
    overall, per_label = entity_scores(gold, pred)
    assert per_label["city"].f1 == 1.0
    assert per_label["road"].precision == 0.0
    assert (overall.precision, overall.recall) == (round(1 / 3, 4), 0.5)


def test_tokenize_keeps_digit_runs() -> None:
    assert tokenize("文三路 602号B座") == [
        ("文", 0, 1), ("三", 1, 2), ("路", 2, 3), ("602", 4, 7), ("号", 7, 8), ("B", 8, 9), ("座", 9, 10),
    ]  # fmt: skip


def test_features_see_suffixes_and_gazetteer() -> None:
    tokens = list("杭州市文三路")
    feats = sequence_features(tokens, ["杭州市", "文三路"], {"杭州市": "city"})
    assert len(feats) == len(tokens)
    assert "gaz=B-city" in feats[0] and "gaz=I-city" in feats[2]
    assert "sfx_end=市" in feats[2] and "sfx_end=路" in feats[5]
    assert "wp=B" in feats[3] and "wp=E" in feats[5]


def test_gazetteer_and_spoken_copy() -> None:
    import random

    corpus = read_corpus(SAMPLE.splitlines())
    assert build_gazetteer(corpus) == {"杭州市": "city", "浙江省": "prov", "西湖区": "district"}
    copy = spoken_copy(corpus[0], random.Random(1))
    assert len(copy.tokens) == len(copy.tags)
    text = "".join(copy.tokens)
    assert "602" not in text and "浙江省杭州市文三路" in text
    # The words added around the address are labelled O.
    inside = [t for t in copy.tags if t != "O"]
    assert inside[0] == "B-prov" and inside[-1] == "I-roadno"
