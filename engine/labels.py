"""Chinese display labels, one copy: ``sip_config/labels.toml``, read once at import.

The engine words alert reasons and call summaries with the tables below; the gateway serves
every table to the screens as ``/assets/labels.json`` (:func:`screen_labels_json`), which
``agent_overlay/labels.js`` exports, so no second copy is kept by hand.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jiesu.engine.assist.workorder import WorkOrderSchema, default_schema_path

LABELS_PATH = default_schema_path().with_name("labels.toml")


def _load(path: Path) -> Mapping[str, Any]:
    with path.open("rb") as file:
        return MappingProxyType(tomllib.load(file))


_TABLES = _load(LABELS_PATH)
RISK_KIND: Mapping[str, str] = MappingProxyType(_TABLES["risk_kind"])
EMOTION: Mapping[str, str] = MappingProxyType(_TABLES["emotion"])
EMOTION_ALERT: Mapping[str, str] = MappingProxyType(_TABLES["emotion_alert"])
ALERT_LEVEL: Mapping[str, str] = MappingProxyType(_TABLES["alert_level"])
SUMMARY_LEVEL: Mapping[str, str] = MappingProxyType(_TABLES["summary_level"])
TIP: Mapping[str, str] = MappingProxyType(_TABLES["tip"])


def screen_labels_json() -> bytes:
    """Every table under its name in capitals, plus ``ORDER_FIELDS``: the shipped work-order
    schema's ``[name, label]`` pairs in display order."""
    schema = WorkOrderSchema.load(default_schema_path())
    tables = {name.upper(): table for name, table in _TABLES.items()}
    tables["ORDER_FIELDS"] = [[spec.name, spec.label] for spec in schema.fields]
    return json.dumps(tables, ensure_ascii=False).encode("utf-8")
