"""The work-order schema (TOML, validated) and the locking rules of a WorkOrder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jiesu.engine.assist.loaders import SCHEMA_FILE, load_schema
from jiesu.engine.assist.workorder import (
    FieldValue,
    SchemaError,
    Taxonomy,
    WorkOrder,
    address_text,
)
from jiesu.engine.events import FieldOrigin


def test_default_schema_is_the_12345_order() -> None:
    schema = load_schema(SCHEMA_FILE)
    kinds = {spec.kind for spec in schema.fields}
    assert {"name", "phone", "address", "time", "request_type", "category", "urgency"} <= kinds
    assert {"summary", "department", "dispatch", "duplicate"} <= kinds
    assert schema.request_types == ("咨询", "求助", "投诉", "举报", "建议", "表扬")
    assert len(schema.taxonomy.paths) == 517
    assert schema.taxonomy.contains(("城乡建设", "安全生产", "事故处理"))
    assert schema.taxonomy.contains(("城乡建设",))
    assert not schema.taxonomy.contains(("城乡建设", "不存在"))
    assert schema.spec("callback_phone") is not None and schema.spec("callback_phone").sensitive  # type: ignore[union-attr]
    assert schema.accepts("address.district") and not schema.accepts("address.planet")
    assert not schema.accepts("nonsense")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("fields = []", "fields: expected a non-empty array"),
        ('[[fields]]\nname = "a"\nkind = "rocket"', "fields[0].kind: expected one of"),
        ('[[fields]]\nname = "a.b"\nkind = "text"', "fields[0].name"),
        ('[[fields]]\nname = "a"\nkind = "text"\n[[fields]]\nname = "a"\nkind = "text"', "unique"),
        ('dispatch_threshold = 2\n[[fields]]\nname = "a"\nkind = "text"', "dispatch_threshold"),
        ('colour = 1\n[[fields]]\nname = "a"\nkind = "text"', "colour: unknown key"),
        ('taxonomy_file = "nope.tsv"\n[[fields]]\nname = "a"\nkind = "text"', "nope.tsv not found"),
        ("[[fields", "not valid TOML"),
    ],
)
def test_bad_schemas_name_file_and_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "wo.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(SchemaError, match=re.escape(message)) as info:
        load_schema(path)
    assert str(path) in str(info.value)


def test_taxonomy_tsv_rejects_short_rows(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("一级分类\t二级分类\t三级分类\na\tb\tc\na\tb\n", encoding="utf-8")
    with pytest.raises(SchemaError, match="line 3"):
        Taxonomy.parse_tsv(path.read_text(encoding="utf-8"), str(path))


def test_agent_edit_locks_the_field_against_automatic_updates() -> None:
    order = WorkOrder("c1")
    auto = order.propose("caller_name", FieldValue("王先生", 0.7))
    assert auto is not None and auto.value("caller_name") == "王先生"
    edited = auto.edit("caller_name", "王晓明")
    assert edited.locked("caller_name")
    assert edited.get("caller_name") == FieldValue("王晓明", 1.0, FieldOrigin.AGENT, True)
    assert edited.propose("caller_name", FieldValue("李女士", 0.99)) is None
    # Unchanged value and confidence: no new order (no event, no flicker).
    assert auto.propose("caller_name", FieldValue("王先生", 0.72)) is None
    assert auto.propose("caller_name", FieldValue("王先生", 0.9)) is not None
    # The automatic path can never set a lock, whatever it is handed.
    sneaky = auto.propose("urgency", FieldValue("urgent", 0.9, FieldOrigin.AGENT, True))
    assert sneaky is not None and not sneaky.locked("urgency")


def test_address_text_follows_the_component_order() -> None:
    parts = {"road": "中山大道", "district": "天河区", "roadno": "88号"}
    assert address_text(parts, ("district", "road", "roadno")) == "天河区中山大道88号"
