"""Text emotion: analyzer, training helpers, artefact round trip, and the shipped artefact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jiesu.engine.alerts.loaders import TEXT_EMOTION_ARTEFACT, load_text_emotion, save_text_emotion
from jiesu.engine.alerts.text_emotion import LABELS, char_ngrams
from jiesu.engine.train.emotion import choose_thresholds, fit, read_labelled, scores

TINY = {
    "angry": ["太过分了投诉你们", "气愤至极你们不管", "简直太过分了不管事"],
    "happy": ["谢谢你们太开心了", "非常满意谢谢", "开心感谢帮忙"],
    "neutral": ["请问几点上班", "地址在哪里请问", "几点开门请问"],
    "sad": ["好难过心里难受", "伤心难过想哭", "难受想哭"],
    "fear": ["好害怕担心出事", "害怕极了担心", "担心害怕睡不着"],
    "surprise": ["居然这样没想到", "没想到竟然", "竟然居然"],
}


def tiny() -> tuple[list[str], list[str]]:
    texts = [t for lab in LABELS for t in TINY[lab]]
    labels = [lab for lab in LABELS for _ in TINY[lab]]
    return texts, labels


def test_char_ngrams_drop_hashtags_and_spaces() -> None:
    grams = char_ngrams("#武汉加油# 太过分 了")
    assert "武" not in grams and all(" " not in g for g in grams)
    assert {"太", "太过", "太过分", "分"} <= set(grams)


def test_fit_save_load_round_trip(tmp_path: Path) -> None:
    pytest.importorskip("sklearn", reason="training needs scikit-learn (the train extra)")
    texts, labels = tiny()
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(len(texts), 8)).astype(np.float32)
    model = fit(texts, labels, c=10.0, emb=emb)
    model.thresholds = {lab: 0.3 for lab in LABELS}
    path = tmp_path / "m.npz"
    save_text_emotion(model, path)
    loaded = load_text_emotion(path)
    assert loaded.thresholds == model.thresholds
    for text in ("你们太过分了", "谢谢非常开心"):
        a, b = model.predict(text).probs, loaded.predict(text).probs
        assert a == pytest.approx(b, abs=2e-3)  # coefficients are stored as float16
    assert loaded.predict("太过分了").top()[0] == "angry"
    assert loaded.predict("太过分了").cues[0] in "太过分了"
    # With an embedding the result is the mean of the two heads.
    char = loaded.predict("太过分了").probs
    head = loaded.embedding_probs(emb[0])
    both = loaded.predict("太过分了", embedding=emb[0]).probs
    for j, lab in enumerate(LABELS):
        assert both[lab] == pytest.approx(0.5 * (char[lab] + head[j]), abs=1e-6)


def test_threshold_keeps_anger_recall_at_target() -> None:
    rng = np.random.default_rng(1)
    labels = ["angry"] * 100 + ["neutral"] * 300
    probs = np.zeros((400, len(LABELS)))
    probs[:100, 0] = rng.uniform(0.3, 1.0, 100)
    probs[100:, 0] = rng.uniform(0.0, 0.6, 300)
    probs[:, 3] = 1 - probs[:, 0]
    t = choose_thresholds(probs, labels, 0.8)["angry"]
    result = scores(probs, labels, {"angry": t})
    assert result["anger_recall"] >= 0.8
    # No lower threshold keeping the same recall would be more precise: the next higher one fails.
    higher = [p for p in np.unique(np.round(probs[:, 0], 4)) if p > t]
    assert scores(probs, labels, {"angry": min(higher)})["anger_recall"] < 0.8


def test_embedding_head_strength_is_passed_through() -> None:
    pytest.importorskip("sklearn", reason="training needs scikit-learn (the train extra)")
    texts, labels = tiny()
    emb = np.random.default_rng(2).normal(size=(len(texts), 8)).astype(np.float32)
    strong = fit(texts, labels, emb=emb, emb_c=100.0).emb_coef
    weak = fit(texts, labels, emb=emb, emb_c=0.01).emb_coef
    assert strong is not None and weak is not None
    # Less regularisation (larger C) gives a larger coefficient norm on separable data.
    assert float(np.linalg.norm(strong)) > 10 * float(np.linalg.norm(weak))


def test_bench_anger_views_argmax_and_pr_point() -> None:
    from jiesu.bench.emotion import _anger_views

    # 10 angry rows, 10 neutral; anger probability ranks 8 angry rows first, then 2 neutral,
    # then the last 2 angry rows: argmax (anger >= 0.5) finds 6 of 10 angry, no false alarm.
    anger = [0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.45, 0.44, 0.36, 0.35]
    anger += [0.43, 0.42, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]
    probs = np.zeros((20, len(LABELS)))
    probs[:, LABELS.index("angry")] = anger
    probs[:, LABELS.index("neutral")] = 1 - np.asarray(anger)
    labels = tuple(["angry"] * 10 + ["neutral"] * 10)
    views = _anger_views(probs, labels)
    assert views["anger_argmax"] == {"precision": 1.0, "recall": 0.6}
    point = views["anger_pr_point"]
    # Recall 0.8 needs the 8 top angry rows, which come before both neutral ones: P 1.0.
    assert point["recall"] == 0.8 and point["precision"] == 1.0
    assert point["threshold"] == pytest.approx(0.44)


def test_read_labelled_counts_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "l.tsv"
    path.write_text(
        'id\ttext\tlabel\n1\t太过分了\tangry\n2\t\tangry\n3\t好\tjoy\n4\t"说""好""的"\thappy\n',
        encoding="utf-8",
    )
    data = read_labelled(path)
    assert data.texts == ("太过分了", '说"好"的') and data.skipped == 2
    path.write_text("a\tb\n", encoding="utf-8")
    with pytest.raises(ValueError, match="header"):
        read_labelled(path)


def test_shipped_artefact_is_small_documented_and_works_without_data() -> None:
    path = TEXT_EMOTION_ARTEFACT
    assert path.stat().st_size < 10_000_000
    provenance = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert {"data", "command", "cv_metrics", "artefact_sha256"} <= set(provenance)
    model = load_text_emotion(path)  # character head only: no embedder, no shared data
    angry = model.predict("你们这是什么态度，太过分了，我要投诉你们！")
    calm = model.predict("好的，谢谢你们，辛苦了，祝你们工作顺利")
    assert angry.probs["angry"] > calm.probs["angry"]
    assert angry.probs["angry"] >= model.active_thresholds()["angry"]
    assert calm.top()[0] in ("happy", "neutral")
