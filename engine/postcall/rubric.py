"""The QA rubric (质检评分表): which items a call is scored on, their weights and parameters.

Read from ``sip_config/qa_rubric.toml`` and validated at start: an unknown key, a check that
does not exist or a value of the wrong type names the file, the item and the key. Format::

    rubric = "12345-qa-v1"      # name stored with every result
    pass_score = 80             # 0..100 over the applicable items

    [[items]]
    id = "greeting"             # unique, ASCII
    name = "开场问候"
    weight = 10                 # points
    check = "greeting"          # one of CHECKS
    phrases = ["您好", "12345"] # parameters of the check (see CHECK_KEYS)

See docs/postcall.md for what each check scores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jiesu.engine.config import ConfigError, read_toml
from jiesu.models.registry import shipped_path

#: check -> the parameter keys it takes (besides id, name, weight, check, veto).
CHECK_KEYS: dict[str, frozenset[str]] = {
    "greeting": frozenset({"phrases", "within_s"}),
    "callback_confirm": frozenset({"phrases", "within_lines"}),
    "forbidden": frozenset({"phrases", "per_event"}),
    "soothe": frozenset({"phrases", "within_lines", "min_level"}),
    "closing": frozenset({"phrases", "last_lines"}),
    "dead_air": frozenset({"seconds", "allowed", "per_event"}),
    "talk_over": frozenset({"overlap_ms", "allowed", "per_event"}),
    "speaking_rate": frozenset({"max_chars_per_s", "allowed", "per_event"}),
    "ticket_complete": frozenset({"fields"}),
}
CHECKS = tuple(CHECK_KEYS)
_COMMON = frozenset({"id", "name", "weight", "check", "veto"})
_LEVELS = ("info", "warning", "critical")


@dataclass(frozen=True, slots=True)
class RubricItem:
    """One scored item; parameters a check does not use keep their defaults."""

    id: str
    name: str
    weight: float
    check: str
    #: A failed veto item (一票否决) fails the whole call whatever the score.
    veto: bool = False
    phrases: tuple[str, ...] = ()
    within_s: float = 15.0
    within_lines: int = 2
    last_lines: int = 2
    min_level: str = "warning"
    seconds: float = 8.0
    overlap_ms: int = 800
    max_chars_per_s: float = 6.0
    #: Events tolerated before points are lost; each further one costs ``per_event`` of weight.
    allowed: int = 0
    per_event: float = 0.5
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rubric:
    name: str
    pass_score: float
    items: tuple[RubricItem, ...]


def load_rubric(path: Path | None = None) -> Rubric:
    """Read and validate a rubric file (the shipped one by default)."""
    path = path or shipped_path("sip_config", "qa_rubric.toml")
    data = read_toml(path)
    return rubric_from_mapping(data, str(path))


def rubric_from_mapping(data: dict[str, Any], source: str = "<rubric>") -> Rubric:
    def fail(key: str, expected: str, got: object) -> ConfigError:
        return ConfigError(f"{source}: {key}: expected {expected}, got {got!r}")

    extra = set(data) - {"rubric", "pass_score", "items"}
    if extra:
        raise ConfigError(f"{source}: unknown key(s) {sorted(extra)}")
    name = data.get("rubric", "qa")
    if not isinstance(name, str) or not name.strip():
        raise fail("rubric", "a non-empty string", name)
    pass_score = _number(
        data.get("pass_score", 80), 0, 100, lambda g: fail("pass_score", "0..100", g)
    )
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise fail("items", "a non-empty array of tables ([[items]])", raw_items)
    items: list[RubricItem] = []
    for n, raw in enumerate(raw_items):
        items.append(_item(raw, f"items[{n}]", fail))
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{source}: items: duplicate id in {ids}")
    if sum(item.weight for item in items) <= 0:
        raise ConfigError(f"{source}: items: the weights must not all be 0")
    return Rubric(name.strip(), pass_score, tuple(items))


def _item(raw: object, where: str, fail: Any) -> RubricItem:
    if not isinstance(raw, dict):
        raise fail(where, "a table", raw)
    check = raw.get("check")
    if check not in CHECK_KEYS:
        raise fail(f"{where}.check", f"one of {list(CHECKS)}", check)
    unknown = set(raw) - _COMMON - CHECK_KEYS[check]
    if unknown:
        raise fail(
            where,
            f"only {sorted(_COMMON | CHECK_KEYS[check])} for check {check!r}",
            sorted(unknown),
        )
    item_id = raw.get("id")
    if not isinstance(item_id, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", item_id):
        raise fail(f"{where}.id", "a short lowercase ASCII id", item_id)
    label = raw.get("name")
    if not isinstance(label, str) or not label.strip():
        raise fail(f"{where}.name", "a non-empty string", label)
    values: dict[str, Any] = {}
    for key in CHECK_KEYS[check] & set(raw):
        value = raw[key]
        k = f"{where}.{key}"
        if key in ("phrases", "fields"):
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise fail(k, "an array of non-empty strings", value)
            values[key] = tuple(value)
        elif key == "min_level":
            if value not in _LEVELS:
                raise fail(k, f"one of {list(_LEVELS)}", value)
            values[key] = value
        elif key in ("within_lines", "last_lines", "allowed", "overlap_ms"):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100_000:
                raise fail(k, "an integer 0..100000", value)
            values[key] = value
        else:  # within_s, seconds, max_chars_per_s, per_event
            high = 1.0 if key == "per_event" else 3600.0
            values[key] = _number(value, 0, high, lambda g, k=k, h=high: fail(k, f"0..{h:g}", g))
    needs_phrases = check in ("greeting", "callback_confirm", "forbidden", "soothe", "closing")
    if needs_phrases and not values.get("phrases"):
        raise fail(f"{where}.phrases", f"at least one phrase for check {check!r}", None)
    if check == "ticket_complete" and not values.get("fields"):
        raise fail(f"{where}.fields", "at least one work-order field", None)
    weight = _number(raw.get("weight"), 0, 1000, lambda g: fail(f"{where}.weight", "0..1000", g))
    veto = raw.get("veto", False)
    if not isinstance(veto, bool):
        raise fail(f"{where}.veto", "true or false", veto)
    return RubricItem(item_id, label.strip(), weight, check, veto, **values)


def _number(value: object, low: float, high: float, fail: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise fail(value)
    return float(value)
