"""Ingest wire frames: round trips, and every kind of malformed message refused with its code."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from jiesu.engine.audio import Leg
from jiesu.engine.calls import CallStats, LegStats
from jiesu.engine.events import CallMode
from jiesu.engine.ingest.protocol import (
    Audio,
    Error,
    Hello,
    Start,
    Started,
    Stop,
    Stopped,
    Welcome,
    decode_client_frame,
    decode_server_frame,
    encode_frame,
)
from jiesu.engine.wire import ProtocolError

START = {
    "type": "start",
    "call_id": "c-1",
    "hotline": "12345",
    "agent_id": "a-7",
    "mode": "assist",
    "codec": "pcmu",
    "rate": 8000,
    "legs": ["caller", "agent"],
    "ptime_ms": 20,
    "caller_number": "13812345678",
}
AUDIO = {
    "type": "audio",
    "call_id": "c-1",
    "leg": "caller",
    "seq": 0,
    "codec": "pcmu",
    "payload": b"\xff" * 160,
}


def pack(value: object) -> bytes:
    packed: bytes = msgpack.packb(value, use_bin_type=True)
    return packed


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = {**base, **changes}
    return {k: v for k, v in out.items() if v is not DROP}


DROP = object()


@pytest.mark.parametrize(
    "frame",
    [
        Hello("tok.sig", client="pbx-2"),
        Start("c-1", "12345", "a-7", "pcmu", 8000, (Leg.CALLER, Leg.AGENT), CallMode.IVR, 20, ""),
        Audio("c-1", Leg.AGENT, 41, "l16", b"\x00\x01" * 320),
        Stop("c-1", "transfer"),
    ],
)
def test_client_frames_round_trip(frame: object) -> None:
    data = encode_frame(frame)  # type: ignore[arg-type]
    assert decode_client_frame(data) == frame
    assert msgpack.unpackb(data)["type"] == type(frame).TYPE  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "frame",
    [
        Welcome(max_frame_bytes=65536, codecs=("pcma", "pcmu")),
        Started("c-1"),
        Stopped(
            "c-1",
            "hangup",
            CallStats(
                frames=3, lost=1, chunks=4, legs=(LegStats(leg=Leg.CALLER, frames=3, lost=1),)
            ),
        ),
        Error("duplicate", "seq 3 already received", call_id="c-1", leg="caller", seq=3),
        Error("bad_msgpack", "not msgpack", suppressed=7),
    ],
)
def test_server_frames_round_trip(frame: object) -> None:
    assert decode_server_frame(encode_frame(frame)) == frame  # type: ignore[arg-type]


def test_start_defaults_and_wire_form() -> None:
    minimal = {k: START[k] for k in ("type", "call_id", "hotline", "agent_id", "codec", "rate")}
    frame = decode_client_frame(pack({**minimal, "legs": ["caller"]}))
    assert isinstance(frame, Start)
    assert (frame.mode, frame.ptime_ms, frame.caller_number) == (CallMode.ASSIST, 20, "")
    full = decode_client_frame(pack(START))
    assert isinstance(full, Start)
    assert full.legs == (Leg.CALLER, Leg.AGENT)


def test_audio_payload_is_bytes() -> None:
    frame = decode_client_frame(pack(AUDIO))
    assert isinstance(frame, Audio)
    assert frame.payload == b"\xff" * 160 and frame.leg is Leg.CALLER


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\xc1", "bad_msgpack"),  # 0xc1 is never used in msgpack
        (b"", "bad_msgpack"),
        (pack({"type": "audio"}) + b"\x00", "bad_msgpack"),  # trailing bytes
        (pack({1: "integer key"}), "bad_msgpack"),
        (pack(["type", "audio"]), "not_a_map"),
        (pack(42), "not_a_map"),
        (pack({"call_id": "c-1"}), "unknown_type"),
        (pack({"type": 7}), "unknown_type"),
        (pack({"type": "welcome"}), "unknown_type"),  # a server frame is not a client frame
        (pack({"type": "dance"}), "unknown_type"),
        (pack(with_(AUDIO, seq=DROP)), "bad_message"),
        (pack(with_(AUDIO, extra=1)), "bad_message"),
        (pack(with_(AUDIO, seq="3")), "bad_message"),
        (pack(with_(AUDIO, seq=True)), "bad_message"),
        (pack(with_(AUDIO, seq=-1)), "bad_message"),
        (pack(with_(AUDIO, seq=2**31)), "bad_message"),
        (pack(with_(AUDIO, leg="listener")), "bad_message"),
        (pack(with_(AUDIO, payload="text, not bytes")), "bad_message"),
        (pack(with_(AUDIO, codec="PCMU")), "bad_message"),
        (pack(with_(AUDIO, call_id="")), "bad_message"),
        (pack(with_(AUDIO, call_id="x" * 129)), "bad_message"),
        (pack(with_(AUDIO, call_id="a\nb")), "bad_message"),
        (pack(with_(START, legs=[])), "bad_message"),
        (pack(with_(START, legs=["caller", "caller"])), "bad_message"),
        (pack(with_(START, rate=7999)), "bad_message"),
        (pack(with_(START, rate=96000)), "bad_message"),
        (pack(with_(START, ptime_ms=25)), "bad_message"),
        (pack(with_(START, mode="robot")), "bad_message"),
        (pack(with_(START, hotline="")), "bad_message"),
        (pack(with_(START, caller_number=13812345678)), "bad_message"),
        (pack({"type": "stop", "call_id": "c-1", "reason": ""}), "bad_message"),
        (pack({"type": "hello", "token": "t" * 5000}), "bad_message"),
        (pack({"type": "hello"}), "bad_message"),
    ],
)
def test_malformed_messages_are_refused_with_a_code(data: bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_client_frame(data)
    assert info.value.code == code
    assert str(info.value)  # a message a person can read


def test_refusal_of_a_bad_caller_number_does_not_echo_it() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_client_frame(pack(with_(START, caller_number="138-1234-5678 ext. Zhang")))
    assert "1234" not in str(info.value)
    assert "caller_number" in str(info.value)


def test_deeply_nested_garbage_is_a_protocol_error_not_a_crash() -> None:
    data = b"\x91" * 100_000 + b"\xc0"  # 100k nested one-element arrays
    with pytest.raises(ProtocolError) as info:
        decode_client_frame(data)
    assert info.value.code == "bad_msgpack"
