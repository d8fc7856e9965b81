"""Screen control messages: strict parsing, serialisation, and no token in repr."""

from __future__ import annotations

import json

import pytest

from jiesu.engine.gateway.protocol import (
    CONTROL_MESSAGES,
    BoardEntry,
    Error,
    Follow,
    Following,
    Hello,
    Resync,
    Unfollow,
    Welcome,
    message_to_json,
    parse_client_message,
    parse_server_message,
    wire_name,
)
from jiesu.engine.wire import ProtocolError


def test_parse_client_messages() -> None:
    assert parse_client_message('{"type":"hello","protocol":1,"token":"t"}') == Hello(1, "t")
    assert parse_client_message('{"type":"hello","protocol":1}') == Hello(1, "")
    assert parse_client_message('{"type":"follow","call_id":"c1","after_seq":7}') == Follow("c1", 7)
    assert parse_client_message('{"type":"follow","call_id":"c1"}') == Follow("c1", 0)
    assert parse_client_message('{"type":"unfollow","call_id":"c1"}') == Unfollow("c1")


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b'{"type":"hello"}', "binary"),
        ("", "bad_json"),
        ("nope", "bad_json"),
        ("null", "not_object"),
        ('"hello"', "not_object"),
        ("{}", "unknown_type"),
        ('{"type": 3}', "unknown_type"),
        ('{"type":"welcome","protocol":1}', "unknown_type"),  # a server message
        ('{"type":"follow"}', "bad_fields"),
        ('{"type":"follow","call_id":""}', "bad_fields"),
        ('{"type":"follow","call_id":"c","after_seq":-1}', "bad_fields"),
        ('{"type":"follow","call_id":"c","after_seq":1.5}', "bad_fields"),
        ('{"type":"follow","call_id":"c","after_seq":true}', "bad_fields"),
        ('{"type":"follow","call_id":"c","since":1}', "bad_fields"),
        ('{"type":"hello","protocol":"1","token":"t"}', "bad_fields"),
        ('{"type":"hello","protocol":1,"token":5}', "bad_fields"),
        ('{"type":"unfollow"}', "bad_fields"),
    ],
)
def test_malformed_client_messages_are_refused_with_a_reason(frame: str | bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_client_message(frame)
    assert refused.value.code == code


def test_errors_never_echo_a_token() -> None:
    secret = "eyJzdWIiOiJhMSJ9.c2lnbmF0dXJl"
    with pytest.raises(ProtocolError) as refused:
        parse_client_message(json.dumps({"type": "hello", "protocol": 1, "token": secret, "x": 1}))
    assert secret not in str(refused.value)
    assert secret not in repr(Hello(1, secret))


def test_server_messages_round_trip() -> None:
    entry = BoardEntry("c1", "12345", "a1", "assist", "talking", 1_700_000_000_000)
    messages = [
        Welcome(1, "a1", "agent", "12345", (entry,)),
        Welcome(1, "boss", "supervisor", "12345", ()),
        Following("c1", 5),
        Error("forbidden", "forbidden", call_id="c2", detail="call outside your scope"),
        Error("auth_failed", "expired"),
        Resync("slow_consumer"),
    ]
    for message in messages:
        assert parse_server_message(message_to_json(message)) == message


def test_wire_forms_are_the_documented_ones() -> None:
    assert json.loads(message_to_json(Error("auth_failed", "missing"))) == {
        "type": "error",
        "code": "auth_failed",
        "reason": "missing",
    }
    assert json.loads(message_to_json(Resync("slow_consumer"))) == {
        "type": "resync",
        "reason": "slow_consumer",
    }
    welcome = json.loads(message_to_json(Welcome(1, "a1", "agent", "12345", ())))
    assert welcome == {
        "type": "welcome",
        "protocol": 1,
        "sub": "a1",
        "role": "agent",
        "hotline": "12345",
        "calls": [],
    }


def test_control_messages_carry_distinct_wire_names() -> None:
    names = [wire_name(cls) for cls in CONTROL_MESSAGES]
    assert len(names) == len(set(names))
    assert set(names) == {
        "hello",
        "follow",
        "unfollow",
        "ticket.edit",
        "ticket.submit",
        "ticket.dispatch",
        "welcome",
        "following",
        "unfollowed",
        "error",
        "resync",
    }
