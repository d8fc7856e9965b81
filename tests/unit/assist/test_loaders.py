"""The assist loaders at the edge, and the pure cores they feed: the cores parse text, mappings
and arrays given to them and read no files themselves."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

from jiesu.engine.assist.classify.departments import DepartmentConfigError, DepartmentRouter
from jiesu.engine.assist.knowledge.base import KnowledgeFormatError, parse_jsonl, parse_markdown
from jiesu.engine.assist.loaders import load_departments, load_schema
from jiesu.engine.assist.workorder import SchemaError, Taxonomy, WorkOrderSchema
from jiesu.models.registry import shipped_path

#: Modules that must stay free of file I/O (the loaders read for them).
_PATTERNS = ("engine/assist/*/*.py", "engine/assist/workorder.py", "engine/assist/toolkit.py")
PURE = [
    *sorted(str(p.relative_to(shipped_path())) for g in _PATTERNS for p in shipped_path().glob(g)),
    "engine/alerts/text_emotion.py",
]
#: Calls that read or write files.
IO_CALLS = frozenset(
    {"open", "read_text", "read_bytes", "write_text", "write_bytes", "load", "save", "savez",
     "savez_compressed", "is_file", "exists", "iterdir", "mkdir", "loads"}
)  # fmt: skip


@pytest.mark.parametrize("module", PURE)
def test_pure_cores_do_no_file_io(module: str) -> None:
    tree = ast.parse(shipped_path(module).read_text(encoding="utf-8"))
    calls = {
        node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
    }
    # json.loads parses text already in memory; any other I/O-shaped call is a loader's job.
    found = calls & IO_CALLS - {"loads"}
    assert not found, f"{module} calls {sorted(found)}"
    assert "tomllib" not in shipped_path(module).read_text(encoding="utf-8")


def test_taxonomy_parses_text_and_names_its_source() -> None:
    taxonomy = Taxonomy.parse_tsv("一级分类\t二级分类\t三级分类\na\tb\tc\na\tb\tc\n", "t.tsv")
    assert taxonomy.paths == (("a", "b", "c"),)
    with pytest.raises(SchemaError, match=r"t\.tsv: line 2"):
        Taxonomy.parse_tsv("a\tb\tc\na\tb\n", "t.tsv")


def test_schema_from_mapping_asks_for_the_taxonomy_it_names() -> None:
    asked: list[str] = []

    def taxonomy_of(name: str) -> Taxonomy:
        asked.append(name)
        return Taxonomy((("x", "y", "z"),))

    data = {"taxonomy_file": "tax.tsv", "fields": [{"name": "a", "kind": "text"}]}
    schema = WorkOrderSchema.from_mapping(data, Path("wo.toml"), taxonomy_of)
    assert asked == ["tax.tsv"] and schema.taxonomy.contains(("x", "y"))


def test_schema_taxonomy_is_found_beside_the_toml(tmp_path: Path) -> None:
    (tmp_path / "tax.tsv").write_text("a\tb\tc\n", encoding="utf-8")
    path = tmp_path / "wo.toml"
    path.write_text('taxonomy_file = "tax.tsv"\n[[fields]]\nname = "a"\nkind = "text"\n', "utf-8")
    assert load_schema(path).taxonomy.paths == (("a", "b", "c"),)
    with pytest.raises(SchemaError, match="cannot read"):
        load_schema(tmp_path / "missing.toml")


def test_departments_from_a_mapping_and_from_a_file(tmp_path: Path) -> None:
    router = DepartmentRouter.from_mapping({"level1": {"a": {"x": 3, "y": 1}}}, Path("d.toml"))
    assert dict(router.level1["a"]) == {"x": 0.75, "y": 0.25} and router.threshold == 0.6
    with pytest.raises(DepartmentConfigError, match="cannot read"):
        load_departments(tmp_path / "departments.toml")


def test_knowledge_parsers_take_text() -> None:
    line = (
        '{"id": "k1", "title": "T", "body": "B", "keywords": ["k"], "version": "1", '
        '"effective_date": "2024-01-02"}'
    )
    (entry,) = parse_jsonl(line + "\n\n", "kb.jsonl")
    assert entry.id == "k1" and entry.effective_date == dt.date(2024, 1, 2)
    md = "# 标题\nid: m1\nversion: 2\neffective_date: 2024-03-04\nkeywords: 甲, 乙\n\n正文\n"
    (entry,) = parse_markdown(md, "kb.md")
    assert (entry.id, entry.title, entry.body, entry.keywords) == (
        "m1",
        "标题",
        "正文",
        ("甲", "乙"),
    )
    with pytest.raises(KnowledgeFormatError, match=r"kb\.jsonl:1: not JSON"):
        list(parse_jsonl("{", "kb.jsonl"))
