"""The shipped address parser: artefact, provenance, parsing addresses inside spoken sentences."""

from __future__ import annotations

import hashlib
import json
import random

import pytest
from shared_data import SHARED_DATA

from jiesu.engine.assist.extract.address import (
    GAZETTEER_FILE,
    MODEL_FILE,
    PROVENANCE_FILE,
    AddressParser,
)
from jiesu.engine.assist.extract.address_corpus import read_corpus
from jiesu.engine.assist.loaders import load_address_parser
from jiesu.engine.train.address import evaluate, spoken_copy
from jiesu.models.registry import trained_path

DEV = SHARED_DATA / "text" / "address_parsing" / "dev.txt"


@pytest.fixture(scope="module")
def parser() -> AddressParser:
    return load_address_parser()


def test_artefact_is_small_and_its_provenance_matches() -> None:
    folder = trained_path()
    provenance = json.loads((folder / PROVENANCE_FILE).read_text(encoding="utf-8"))
    for name in (MODEL_FILE, GAZETTEER_FILE):
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert provenance["sha256"][name] == digest, f"{name} differs from its provenance"
    size = sum((folder / n).stat().st_size for n in (MODEL_FILE, GAZETTEER_FILE))
    assert size < 10 * 1024 * 1024
    assert provenance["command"].startswith("jiesu train address")
    assert provenance["data"]["train"].endswith("train.txt")
    assert 0.0 < provenance["metrics"]["dev"]["f1"] <= 1.0
    assert provenance["date"]


def test_address_in_a_sentence(parser: AddressParser) -> None:
    text = "你好我要投诉，我住在朝阳区望京街道花家地小区三号楼二单元五零一，楼下饭店晚上很吵"
    (match,) = parser.parse(text)
    assert text[match.start : match.end] == "朝阳区望京街道花家地小区三号楼二单元五零一"
    parts = dict(match.components)
    assert parts["district"] == "朝阳区"
    assert parts["town"] == "望京街道"
    assert parts["cellno"] == "二单元"
    assert match.confidence > 0.8


def test_full_address_components(parser: AddressParser) -> None:
    (match,) = parser.parse("我家住在浙江省杭州市西湖区文三路一百号")
    assert dict(match.components) == {
        "province": "浙江省",
        "city": "杭州市",
        "district": "西湖区",
        "road": "文三路",
        "roadno": "一百号",
    }


def test_asr_text_without_punctuation(parser: AddressParser) -> None:
    text = "我住在杭州市滨江区缤纷北苑四十七幢那边一直很吵"
    (match,) = parser.parse(text)
    assert text[match.start : match.end].startswith("杭州市滨江区缤纷北苑")
    assert "那边" not in text[match.start : match.end]


@pytest.mark.parametrize("text", ["今天天气不错", "嗯我想问一下社保怎么交", "好的谢谢您", ""])
def test_no_address(parser: AddressParser, text: str) -> None:
    assert parser.parse(text) == []


@pytest.mark.skipif(not DEV.is_file(), reason=f"needs the address corpus at {DEV}")
def test_dev_sample_scores(parser: AddressParser) -> None:
    # A sample of the dev file: a sanity floor, the benchmark reports the full figures.
    dev = read_corpus(DEV.read_text(encoding="utf-8").splitlines())[:300]
    assert evaluate(parser, dev)["f1"] > 0.8
    spoken = [spoken_copy(item, random.Random(n)) for n, item in enumerate(dev)]
    assert evaluate(parser, spoken)["f1"] > 0.75
