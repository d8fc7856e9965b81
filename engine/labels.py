"""Chinese display labels, one copy: ``sip_config/labels.toml``, read once at import.

The engine words alert reasons and call summaries with the tables below; the gateway serves
every table to the screens as ``/assets/labels.json`` (:func:`screen_labels_json`), which
``agent_overlay/labels.js`` exports, so no second copy is kept by hand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from jiesu.engine.config import read_toml
from jiesu.models.registry import shipped_path

LABELS_PATH = shipped_path("sip_config", "labels.toml")

_TABLES: Mapping[str, Any] = MappingProxyType(read_toml(LABELS_PATH))
RISK_KIND: Mapping[str, str] = MappingProxyType(_TABLES["risk_kind"])
EMOTION: Mapping[str, str] = MappingProxyType(_TABLES["emotion"])
EMOTION_ALERT: Mapping[str, str] = MappingProxyType(_TABLES["emotion_alert"])
ALERT_LEVEL: Mapping[str, str] = MappingProxyType(_TABLES["alert_level"])
SUMMARY_LEVEL: Mapping[str, str] = MappingProxyType(_TABLES["summary_level"])
TIP: Mapping[str, str] = MappingProxyType(_TABLES["tip"])


def screen_labels_json() -> bytes:
    """Every table under its name in capitals, plus ``ORDER_FIELDS``: the shipped work-order
    schema's ``[name, label]`` pairs in display order."""
    from jiesu.engine.assist.loaders import SCHEMA_FILE, load_schema  # the screens' fields

    schema = load_schema(SCHEMA_FILE)
    tables = {name.upper(): table for name, table in _TABLES.items()}
    tables["ORDER_FIELDS"] = [[spec.name, spec.label] for spec in schema.fields]
    return json.dumps(tables, ensure_ascii=False).encode("utf-8")
