"""Round-trips and strict validation of the call event protocol (JSON and msgpack)."""

from __future__ import annotations

import dataclasses
import json

import msgpack
import pytest
from event_samples import SAMPLES

from jiesu.engine.audio import Leg
from jiesu.engine.events import (
    PAYLOAD_TYPES,
    CallEnded,
    Event,
    TranscriptFinal,
    TranscriptPartial,
    event_from_json,
    event_from_msgpack,
    event_from_plain,
    event_to_json,
    event_to_msgpack,
    event_to_plain,
)
from jiesu.engine.wire import ProtocolError


def test_samples_cover_every_payload_type() -> None:
    assert {type(p).TYPE for p in SAMPLES} == set(PAYLOAD_TYPES)


@pytest.mark.parametrize("payload", SAMPLES, ids=lambda p: type(p).TYPE)
def test_json_and_msgpack_round_trip(payload: object) -> None:
    event = Event("call-1", 42, 1500, 1_763_900_000_123, payload)  # type: ignore[arg-type]
    assert event_from_json(event_to_json(event)) == event
    assert event_from_msgpack(event_to_msgpack(event)) == event
    plain = json.loads(event_to_json(event))
    assert plain["type"] == type(payload).TYPE
    assert plain["seq"] == 42 and plain["t_media"] == 1500 and plain["v"] == 1


def test_chinese_text_stays_readable_in_json() -> None:
    event = Event("c", 1, 0, 0, CallEnded("挂机"))
    assert "挂机" in event_to_json(event)


def _plain() -> dict[str, object]:
    return event_to_plain(Event("c", 1, 0, 0, TranscriptPartial(Leg.CALLER, "u", "x", 0, 1, 0)))


@pytest.mark.parametrize(
    ("mutate", "code", "fragment"),
    [
        (lambda d: d.update(type="transcript.bogus"), "unknown_type", "unknown event type"),
        (lambda d: d.update(v=2), "bad_version", "version"),
        (lambda d: d.pop("seq"), "bad_message", "missing ['seq']"),
        (lambda d: d.update(extra=1), "bad_message", "unexpected ['extra']"),
        (lambda d: d.update(seq="7"), "bad_message", "$.seq: expected an integer"),
        (lambda d: d.update(seq=True), "bad_message", "$.seq: expected an integer"),
        (lambda d: d["payload"].update(leg="third"), "bad_message", "$.payload.leg"),
        (lambda d: d["payload"].pop("text"), "bad_message", "missing field 'text'"),
        (lambda d: d["payload"].update(color="red"), "bad_message", "unknown field"),
        (lambda d: d.update(payload=[1, 2]), "bad_message", "expected an object"),
    ],
)
def test_invalid_events_are_refused_with_a_clear_reason(mutate, code, fragment) -> None:  # type: ignore[no-untyped-def]
    data = _plain()
    mutate(data)
    with pytest.raises(ProtocolError) as info:
        event_from_plain(data)
    assert info.value.code == code
    assert fragment in str(info.value)


def test_garbage_bytes_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError) as info:
        event_from_json(b"\xff\xfe not json")
    assert info.value.code == "bad_json"
    with pytest.raises(ProtocolError) as info:
        event_from_msgpack(b"\xc1\xc1\xc1")
    assert info.value.code == "bad_msgpack"
    with pytest.raises(ProtocolError):
        event_from_msgpack(msgpack.packb([1, 2, 3]))


def test_events_are_frozen() -> None:
    event = Event("c", 1, 0, 0, CallEnded("x"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.seq = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.payload.reason = "y"  # type: ignore[misc]


def test_only_partials_coalesce_and_per_leg() -> None:
    caller = Event("c", 1, 0, 0, TranscriptPartial(Leg.CALLER, "u", "x", 0, 1, 0))
    agent = Event("c", 2, 0, 0, TranscriptPartial(Leg.AGENT, "u", "x", 0, 1, 0))
    final = Event("c", 3, 0, 0, TranscriptFinal(Leg.CALLER, "u", "x", 0, 1))
    assert caller.coalesce_key() != agent.coalesce_key()
    assert caller.coalesce_key() is not None
    assert final.coalesce_key() is None
