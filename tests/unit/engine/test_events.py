"""Round-trips and strict validation of the call event protocol (JSON and msgpack)."""

from __future__ import annotations

import dataclasses
import json

import msgpack
import pytest

from jiesu.engine.audio import Leg
from jiesu.engine.events import (
    PAYLOAD_TYPES,
    AlertLevel,
    CallEnded,
    CallMode,
    CallStarted,
    CallState,
    CallStateChanged,
    CoachingTip,
    EmotionAlert,
    Event,
    FieldOrigin,
    KnowledgeSuggestion,
    RiskAlert,
    ScoredValue,
    SourceSpan,
    SpeakerTurn,
    TicketField,
    TimedToken,
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

SAMPLES = [
    CallStarted("12345", "agent-7", CallMode.ASSIST, (Leg.CALLER, Leg.AGENT), "138****5678"),
    CallStateChanged(CallState.ON_HOLD),
    CallEnded("caller_hangup"),
    TranscriptPartial(Leg.CALLER, "u1", "我想问一下社保", 1200, 2600, 4),
    TranscriptFinal(
        Leg.AGENT,
        "u2",
        "您好，请讲。",
        3000,
        4100,
        (TimedToken("您好", 3000, 3400, 0.93), TimedToken("请讲", 3500, 4000, 0.88)),
    ),
    SpeakerTurn(Leg.MIXED, "spk1", 0, 5000),
    TicketField(
        "department",
        "市人力社保局",
        0.81,
        FieldOrigin.AUTO,
        False,
        SourceSpan("u1", 5, 7),
        (ScoredValue("市人力社保局", 0.81), ScoredValue("区医保局", 0.12)),
    ),
    TicketField("caller_name", "王先生", 1.0, FieldOrigin.AGENT, True),
    KnowledgeSuggestion(
        "kb-017", "2026.3", "社保缴费基数", "缴费基数按…", 0.74, ("社保缴费",), "u1"
    ),
    EmotionAlert(Leg.CALLER, AlertLevel.WARNING, "angry", 0.86, "连续三句语气激烈"),
    RiskAlert("self_harm", AlertLevel.CRITICAL, "提到轻生", "不想活了"),
    CoachingTip("confirm-phone", "请复述并确认回拨号码"),
]


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
