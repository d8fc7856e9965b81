"""Generate the versioned JSON schema of the screen protocol from the event dataclasses.

The dataclasses are the single source of truth; ``jiesu schema --write`` regenerates
``agent_overlay/protocol.v1.schema.json`` and a test fails when the committed file is stale, so
the browser code (which reads the schema) and the engine cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any, get_args, get_origin

from jiesu.engine.events import PAYLOAD_TYPES, PROTOCOL_VERSION

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FILE_NAME = f"protocol.v{PROTOCOL_VERSION}.schema.json"

JsonSchema = dict[str, Any]


def _type_schema(tp: Any, defs: dict[str, JsonSchema]) -> JsonSchema:
    origin = get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return {"anyOf": [_type_schema(arg, defs) for arg in get_args(tp)]}
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _type_schema(args[0], defs)}
        return {
            "type": "array",
            "prefixItems": [_type_schema(a, defs) for a in args],
            "items": False,
        }
    if origin is typing.Literal:
        return {"enum": list(get_args(tp))}
    if tp is type(None):
        return {"type": "null"}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        _add_dataclass(tp, defs)
        return {"$ref": f"#/$defs/{tp.__name__}"}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [member.value for member in tp]}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if tp in simple:
        return {"type": simple[tp]}
    raise TypeError(f"no JSON schema for {tp!r}")


def _add_dataclass(cls: type, defs: dict[str, JsonSchema]) -> None:
    if cls.__name__ in defs:
        return
    defs[cls.__name__] = {}  # placeholder stops recursion on self-reference
    hints = typing.get_type_hints(cls)
    properties: dict[str, JsonSchema] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        properties[f.name] = _type_schema(hints[f.name], defs)
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        # A message's `type` has a default in Python (its wire name) but is required on the wire.
        if no_default or (f.name == "type" and get_origin(hints[f.name]) is typing.Literal):
            required.append(f.name)
    schema: JsonSchema = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    if cls.__doc__ and not cls.__doc__.startswith(f"{cls.__name__}("):
        schema["description"] = " ".join(cls.__doc__.split())
    defs[cls.__name__] = schema


def _event_schema(event_type: str, payload_cls: type) -> JsonSchema:
    return {
        "type": "object",
        "properties": {
            "v": {"const": PROTOCOL_VERSION},
            "type": {"const": event_type},
            "call_id": {"type": "string", "minLength": 1},
            "seq": {"type": "integer", "minimum": 1},
            "t_media": {"type": "integer", "description": "ms from the start of the call"},
            "t_wall": {"type": "integer", "description": "ms since the Unix epoch"},
            "payload": {"$ref": f"#/$defs/{payload_cls.__name__}"},
        },
        "required": ["v", "type", "call_id", "seq", "t_media", "t_wall", "payload"],
        "additionalProperties": False,
    }


def build_schema(message_classes: Iterable[type] = ()) -> JsonSchema:
    """The protocol schema: every call event, plus the given control-message dataclasses.

    Control messages (screen hello/follow/resync, ...) are listed under ``$defs`` and in
    ``messages``; each must have a ``type`` field holding a Literal of its wire name.
    """
    defs: dict[str, JsonSchema] = {}
    events: list[JsonSchema] = []
    for event_type, payload_cls in PAYLOAD_TYPES.items():
        _add_dataclass(payload_cls, defs)
        name = "Event_" + event_type.replace(".", "_")
        defs[name] = _event_schema(event_type, payload_cls)
        events.append({"$ref": f"#/$defs/{name}"})
    messages = []
    for cls in message_classes:
        _add_dataclass(cls, defs)
        messages.append({"$ref": f"#/$defs/{cls.__name__}"})
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"urn:jiesu:protocol:v{PROTOCOL_VERSION}",
        "title": f"Jiesu screen protocol, version {PROTOCOL_VERSION}",
        "description": (
            "Messages between the Jiesu gateway and agent/supervisor screens. Call events are "
            "sent as the event object itself; control messages are listed under 'messages'. "
            "Generated from the engine's dataclasses by `jiesu schema --write`; do not edit."
        ),
        "version": PROTOCOL_VERSION,
        "oneOf": events + messages,
        "events": events,
        "messages": messages,
        "$defs": dict(sorted(defs.items())),
    }


def schema_path() -> Path:
    """Where the committed schema lives (agent_overlay/, importable as jiesu.agent_overlay)."""
    return Path(str(resources.files("jiesu.agent_overlay"))) / SCHEMA_FILE_NAME


def protocol_schema_text() -> str:
    """The schema exactly as committed: events plus the screen control messages."""
    from jiesu.engine.gateway.protocol import CONTROL_MESSAGES

    return json.dumps(build_schema(CONTROL_MESSAGES), indent=2, ensure_ascii=False) + "\n"
