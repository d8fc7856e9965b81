"""The committed protocol schema matches the dataclasses and actually constrains messages."""

from __future__ import annotations

import json

import jsonschema
import pytest
from event_samples import SAMPLES

from jiesu.engine.audio import Leg
from jiesu.engine.events import Event, TranscriptFinal, TranscriptPartial, event_to_plain
from jiesu.engine.schema import protocol_schema_text, schema_path


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_committed_schema_is_current() -> None:
    assert schema_path().read_text(encoding="utf-8") == protocol_schema_text(), (
        "agent_overlay schema is stale: run `jiesu schema --write`"
    )


@pytest.mark.parametrize("payload", SAMPLES, ids=lambda p: type(p).TYPE)
def test_every_event_type_validates(validator: jsonschema.Draft202012Validator, payload) -> None:  # type: ignore[no-untyped-def]
    validator.validate(event_to_plain(Event("c1", 1, 0, 0, payload)))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(type="transcript.nope"),
        lambda d: d.update(seq=0),
        lambda d: d["payload"].update(leg="third"),
        lambda d: d["payload"].pop("text"),
        lambda d: d["payload"].update(extra=1),
        lambda d: d.update(v=2),
    ],
)
def test_schema_rejects_bad_events(validator: jsonschema.Draft202012Validator, mutate) -> None:  # type: ignore[no-untyped-def]
    data = event_to_plain(Event("c1", 1, 0, 0, TranscriptPartial(Leg.CALLER, "u", "x", 0, 1, 0)))
    mutate(data)
    assert not validator.is_valid(data)


def test_final_with_no_tokens_is_valid(validator: jsonschema.Draft202012Validator) -> None:
    plain = event_to_plain(Event("c1", 3, 0, 0, TranscriptFinal(Leg.AGENT, "u", "好的", 0, 1)))
    del plain["payload"]["tokens"]  # optional in the schema, defaulted on decode
    validator.validate(plain)
