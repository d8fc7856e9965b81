"""The one copy of the shared labels: the engine's texts and the screens' labels.json agree."""

from __future__ import annotations

import json

from jiesu.engine.assist.workorder import WorkOrderSchema, default_schema_path
from jiesu.engine.gateway.static import StaticSite
from jiesu.engine.labels import ALERT_LEVEL, EMOTION, RISK_KIND, screen_labels_json


def test_screens_get_the_engine_tables_and_the_schema_field_labels() -> None:
    tables = json.loads(screen_labels_json())
    assert tables["risk_kind"] == dict(RISK_KIND)
    assert tables["emotion"] == dict(EMOTION)
    assert tables["alert_level"] == dict(ALERT_LEVEL)
    schema = WorkOrderSchema.load(default_schema_path())
    assert [tuple(pair) for pair in tables["order_fields"]] == [
        (spec.name, spec.label) for spec in schema.fields
    ]
    assert tables["order_fields"][0] == ["caller_name", "来电人"]


def test_the_site_serves_labels_json_built_from_the_engine() -> None:
    reply = StaticSite.from_package().reply("/assets/labels.json")
    assert reply is not None and reply.status == 200
    assert reply.body == screen_labels_json()
    assert ("Content-Type", "application/json; charset=utf-8") in reply.headers
