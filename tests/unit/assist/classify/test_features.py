"""Character n-gram TF-IDF written for numpy-only inference."""

from __future__ import annotations

import numpy as np

from jiesu.engine.assist.classify.features import CharTfidf, char_ngrams, sparse_scores


def test_char_ngrams_counts_every_gram_and_folds_spaces() -> None:
    grams = char_ngrams("公积金  公积", 1, 2)
    assert grams["公"] == 2
    assert grams["公积"] == 2
    assert grams["金 "] == 1  # two spaces became one
    assert "  " not in grams


def test_tfidf_rows_are_unit_length_and_ignore_unknown_grams() -> None:
    tfidf = CharTfidf.fit(["停水停电", "拖欠工资", "工资停发"])
    row = tfidf.row("停水了，拖欠工资")
    assert np.isclose(np.linalg.norm(row.values), 1.0)
    assert set(row.indices.tolist()) <= set(range(tfidf.size))
    assert "了" not in tfidf.vocabulary
    empty = tfidf.row("xyz")
    assert empty.indices.size == 0


def test_rarer_grams_weigh_more() -> None:
    tfidf = CharTfidf.fit(["工资", "工资停发", "工作"], 1, 1)
    row = tfidf.row("工资")
    weights = dict(zip(row.indices.tolist(), row.values.tolist(), strict=True))
    assert weights[tfidf.vocabulary["资"]] > weights[tfidf.vocabulary["工"]]


def test_sparse_scores_matches_dense_product() -> None:
    tfidf = CharTfidf.fit(["停水停电", "拖欠工资"])
    row = tfidf.row("停水")
    w = np.arange(2 * tfidf.size, dtype=np.float32).reshape(2, tfidf.size)
    dense = np.zeros(tfidf.size)
    dense[row.indices] = row.values
    assert np.allclose(sparse_scores(row, w, np.array([1.0, 2.0])), w @ dense + [1.0, 2.0])
