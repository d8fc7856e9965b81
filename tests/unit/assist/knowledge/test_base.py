"""Knowledge-base files: the demo KB, JSONL and Markdown formats, errors that name the place."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from jiesu.engine.assist.knowledge.base import KnowledgeFormatError
from jiesu.engine.assist.loaders import load_knowledge_base

DEMO = Path(__file__).resolve().parents[4] / "sip_config" / "knowledge" / "demo_kb.jsonl"


def test_demo_kb_has_60_plus_complete_entries_across_the_usual_topics() -> None:
    kb = load_knowledge_base(DEMO)
    assert len(kb) >= 60
    for e in kb.entries:
        assert e.id and e.title and len(e.body) > 40 and e.keywords and e.version
        assert isinstance(e.effective_date, dt.date)
    topics = Counter(e.category for e in kb.entries)
    for topic in (
        "社会保险",
        "住房公积金",
        "居住证",
        "医疗保险",
        "供水",
        "供电",
        "燃气",
        "物业管理",
        "噪音扰民",
        "交通",
        "劳动争议",
    ):
        assert topics[topic] >= 1, topic


def test_demo_kb_has_no_private_phone_numbers() -> None:
    import re

    allowed = {"12345", "12333", "12329", "12315", "12369", "12123", "95598", "110", "119", "120"}
    for e in load_knowledge_base(DEMO).entries:
        for number in re.findall(r"\d{3,}", e.body):
            if len(number) >= 5 or number in {"110", "119", "120"}:
                assert number in allowed, (e.id, number)


MARKDOWN = """# 居住证办理
id: RP-X1
version: 2.1
effective_date: 2026-03-01
keywords: 居住证, 办理，签注
category: 居住证

您好，办理居住证需要身份证和居住证明。
第二段。
---
# 停水报修
id: UT-X1
version: 1
effective_date: 2025-12-31
keywords: 停水

您好，请说明具体地址。
"""


def test_markdown_entries(tmp_path: Path) -> None:
    path = tmp_path / "kb.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    kb = load_knowledge_base(path)
    first, second = kb.entries
    assert first.id == "RP-X1" and first.title == "居住证办理" and first.version == "2.1"
    assert first.keywords == ("居住证", "办理", "签注")
    assert first.body == "您好，办理居住证需要身份证和居住证明。\n第二段。"
    assert first.effective_date == dt.date(2026, 3, 1)
    assert second.id == "UT-X1" and second.category == ""


def test_a_folder_loads_every_file(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(MARKDOWN, encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(
        DEMO.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8"
    )
    assert len(load_knowledge_base(tmp_path)) == 3


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            '{"id": "x", "title": "t", "body": "b", "keywords": ["k"], "version": "1"}',
            "effective_date",
        ),
        (
            '{"id": "x", "title": "t", "body": "b", "keywords": "k", "version": "1", "effective_date": "2026-01-01"}',
            "keywords",
        ),
        (
            '{"id": "x", "title": "t", "body": "b", "keywords": ["k"], "version": "1", "effective_date": "soon"}',
            "YYYY-MM-DD",
        ),
        ("not json", "not JSON"),
    ],
)
def test_jsonl_errors_name_file_line_and_key(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "kb.jsonl"
    path.write_text("\n" + line + "\n", encoding="utf-8")
    with pytest.raises(KnowledgeFormatError, match=message) as err:
        load_knowledge_base(path)
    assert "kb.jsonl:2" in str(err.value)


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    line = DEMO.read_text(encoding="utf-8").splitlines()[0]
    path = tmp_path / "kb.jsonl"
    path.write_text(f"{line}\n{line}\n", encoding="utf-8")
    with pytest.raises(KnowledgeFormatError, match="duplicate"):
        load_knowledge_base(path)
