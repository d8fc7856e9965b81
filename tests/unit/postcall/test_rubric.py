"""The QA rubric file: the shipped one loads; mistakes name the item and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jiesu.engine.config import ConfigError
from jiesu.engine.postcall.rubric import CHECKS, load_rubric, rubric_from_mapping


def test_shipped_rubric_covers_every_check_and_weighs_100() -> None:
    rubric = load_rubric()
    assert rubric.name == "12345-qa-v1"
    assert {item.check for item in rubric.items} == set(CHECKS)
    assert sum(item.weight for item in rubric.items) == 100
    names = {item.id: item.name for item in rubric.items}
    assert names["greeting"] == "开场问候" and names["ticket"] == "工单完整"
    assert next(i for i in rubric.items if i.id == "forbidden").veto


def _one(**item: Any) -> dict[str, Any]:
    base = {"id": "greeting", "name": "开场问候", "weight": 10, "check": "greeting"}
    return {"items": [{**base, "phrases": ["您好"], **item}]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_one(check="smile"), "items[0].check: expected one of"),
        (_one(seconds=3), "items[0]: expected only"),
        (_one(phrases=[]), "items[0].phrases"),
        (_one(weight=-1), "items[0].weight"),
        (_one(within_s="soon"), "items[0].within_s"),
        (_one(id="Greeting Item"), "items[0].id"),
        ({"items": []}, "items: expected a non-empty array"),
        ({"items": _one()["items"] * 2}, "duplicate id"),
        ({**_one(), "colour": "red"}, "unknown key(s) ['colour']"),
        ({**_one(), "pass_score": 120}, "pass_score"),
    ],
)
def test_mistakes_are_named(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"rubric\.toml") as info:
        rubric_from_mapping(data, "qa_rubric.toml")
    assert message in str(info.value)


def test_unreadable_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_rubric(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("items = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_rubric(broken)
