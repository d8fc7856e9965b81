"""The one copy of the labels (sip_config/labels.toml): the engine's tables and the screens'
labels.json come from it."""

from __future__ import annotations

import json
import tomllib

from jiesu.engine.assist.loaders import SCHEMA_FILE, load_schema
from jiesu.engine.gateway.static import StaticSite, screen_labels_json
from jiesu.engine.labels import (
    ALERT_LEVEL,
    EMOTION,
    EMOTION_ALERT,
    LABELS_PATH,
    RISK_KIND,
    SUMMARY_LEVEL,
)


def test_engine_tables_are_the_file() -> None:
    data = tomllib.loads(LABELS_PATH.read_text(encoding="utf-8"))
    assert dict(RISK_KIND) == data["risk_kind"] and RISK_KIND["fire"] == "火情"
    assert dict(EMOTION) == data["emotion"] and EMOTION["distress"] == "痛苦"
    assert EMOTION_ALERT["anxiety"] == "焦虑/恐惧"
    assert (ALERT_LEVEL["critical"], SUMMARY_LEVEL["critical"]) == ("紧急", "严重")


def test_screens_get_every_table_and_the_schema_field_labels() -> None:
    tables = json.loads(screen_labels_json())
    data = tomllib.loads(LABELS_PATH.read_text(encoding="utf-8"))
    assert {name: tables[name.upper()] for name in data} == data
    assert tables["FIELD_VALUES"]["urgency"]["urgent"] == "紧急"
    schema = load_schema(SCHEMA_FILE)
    assert tables["ORDER_FIELDS"] == [[spec.name, spec.label] for spec in schema.fields]
    assert tables["ORDER_FIELDS"][0] == ["caller_name", "来电人"]


def test_the_site_serves_labels_json_built_from_the_engine() -> None:
    reply = StaticSite.from_package().reply("/assets/labels.json")
    assert reply is not None and reply.status == 200
    assert reply.body == screen_labels_json()
    assert ("Content-Type", "application/json; charset=utf-8") in reply.headers
