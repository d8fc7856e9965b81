"""Names from spoken self-introductions, spelt-out surnames and honorifics."""

from __future__ import annotations

import pytest

from jiesu.engine.assist.extract.names import extract_names


@pytest.mark.parametrize(
    ("text", "full_name", "surname", "honorific"),
    [
        ("你好我叫王小明，住在西湖区", "王小明", "王", None),
        ("我的名字叫李娜", "李娜", "李", None),
        ("我姓王，三横王", None, "王", None),
        ("免贵姓李，木子李", None, "李", None),
        ("我姓张，是弓长张", None, "张", None),
        ("王先生您好", None, "王", "先生"),
        ("刘阿姨你别着急", None, "刘", "阿姨"),
        ("我是欧阳娜娜", "欧阳娜娜", "欧阳", None),
    ],
)
def test_names(text: str, full_name: str | None, surname: str, honorific: str | None) -> None:
    (match,) = extract_names(text)
    assert (match.full_name, match.surname, match.honorific) == (full_name, surname, honorific)


def test_span_covers_the_spelling() -> None:
    text = "我姓王，三横王"
    (match,) = extract_names(text)
    assert text[match.start : match.end] == "王，三横王"
    assert match.confidence > extract_names("我姓王")[0].confidence


def test_surname_then_full_name() -> None:
    found = extract_names("我姓张，弓长张，叫张伟")
    assert [m.surname for m in found] == ["张", "张"]
    assert found[1].full_name == "张伟"


@pytest.mark.parametrize(
    "text", ["请问您贵姓", "我叫不上来", "我是那个小区的", "老百姓的事", "他叫人来修"]
)
def test_no_name(text: str) -> None:
    assert extract_names(text) == []
