"""Chinese display labels, one copy: ``sip_config/labels.toml``, read once at import.

The engine words alert reasons and call summaries with the tables below; the gateway serves
every table to the screens as ``/assets/labels.json``
(:func:`jiesu.engine.gateway.static.screen_labels_json`), which
``agent_overlay/labels.js`` exports, so no second copy is kept by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from jiesu.engine.config import read_toml
from jiesu.models.registry import shipped_path

LABELS_PATH = shipped_path("sip_config", "labels.toml")

#: Every table by its name in the file (the screens get them all).
TABLES: Mapping[str, Any] = MappingProxyType(read_toml(LABELS_PATH))
RISK_KIND: Mapping[str, str] = MappingProxyType(TABLES["risk_kind"])
EMOTION: Mapping[str, str] = MappingProxyType(TABLES["emotion"])
EMOTION_ALERT: Mapping[str, str] = MappingProxyType(TABLES["emotion_alert"])
ALERT_LEVEL: Mapping[str, str] = MappingProxyType(TABLES["alert_level"])
SUMMARY_LEVEL: Mapping[str, str] = MappingProxyType(TABLES["summary_level"])
TIP: Mapping[str, str] = MappingProxyType(TABLES["tip"])
