"""Worker <-> supervisor frames (engine/sip/frames.py): round trips, compactness, and every kind
of malformed message refused without breaking the stream."""

from __future__ import annotations

from typing import get_args

import msgpack
import pytest

from jiesu.engine.audio import Leg
from jiesu.engine.events import CallMode
from jiesu.engine.sip.frames import (
    AudioFrame,
    BadFrame,
    CallEnd,
    CallStart,
    Command,
    Dtmf,
    Frame,
    FrameReader,
    LegEnd,
    Metric,
    Op,
    Ping,
    PlayAudio,
    PlayPhase,
    PlayState,
    Pong,
    Ready,
    Registration,
    Stop,
    TransferPhase,
    TransferState,
    WireError,
    encode_frame,
)

PCM = b"\x00\x01" * 320

EVERY_KIND: list[Frame] = [
    CallStart(
        "c1",
        CallMode.ASSIST,
        "12345",
        "138****5678",
        "13812345678",
        "agent",
        (Leg.CALLER, Leg.AGENT),
        "PCMA",
    ),
    AudioFrame("c1", Leg.AGENT, 7, 1140, PCM),
    CallEnd("c1", "caller_hangup", (LegEnd(Leg.CALLER, 10, 1, 12, 2),)),
    Metric("sip_calls_refused_total", (("reason", "full"),), 1),
    Registration(200, "OK", True, 300),
    Command("c1", Op.TRANSFER, "sip:9@pbx"),
    PlayAudio("c1", 2, PCM, True),
    PlayState("c1", 2, PlayPhase.STOPPED, 55, 130, 0),
    TransferState("c1", "bridge", TransferPhase.FAILED, 486),
    Ready(0, 5060),
    Dtmf("c1", Leg.CALLER, "5", "rfc4733"),
    Pong(3),
    Ping(3),
    Stop(),
]


def test_every_frame_type_has_a_sample() -> None:
    assert {type(f) for f in EVERY_KIND} == set(get_args(Frame))


def test_wire_frames_round_trip_in_pieces_and_reject_garbage() -> None:
    data = encode_frame(AudioFrame("x", Leg.CALLER, 7, 140, PCM)) + encode_frame(
        CallEnd("x", "ended", ())
    )
    reader = FrameReader()
    got: list[Frame | BadFrame] = []
    for i in range(0, len(data), 13):  # arbitrary split points
        got += list(reader.feed(data[i : i + 13]))
    assert [type(f) for f in got] == [AudioFrame, CallEnd]
    assert isinstance(got[0], AudioFrame) and got[0].pcm == PCM
    assert list(FrameReader().feed(msgpack.packb({"no": "type"}))) == [
        BadFrame("not a frame: dict")
    ]
    with pytest.raises(WireError):
        list(FrameReader().feed(b"\xc1"))  # never-used msgpack byte


@pytest.mark.parametrize("frame", EVERY_KIND, ids=lambda f: type(f).__name__)
def test_every_frame_round_trips(frame: Frame) -> None:
    assert list(FrameReader().feed(encode_frame(frame))) == [frame]


def test_audio_frames_stay_compact() -> None:
    """50 frames a second per leg: no keys on the wire, no bigger than the former dict form."""
    call_id, seq, media_ms = "f" * 32, 2**20, 2**24
    frame = encode_frame(AudioFrame(call_id, Leg.CALLER, seq, media_ms, PCM))
    keyed = {"t": "audio", "c": call_id, "l": "caller", "s": seq, "m": media_ms, "p": PCM}
    assert len(frame) < len(msgpack.packb(keyed, use_bin_type=True))
    assert len(frame) - len(PCM) - len(call_id) < 30


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ([], "not a frame"),
        (["nope", 1], "unknown frame type"),
        (["audio", "c", "caller", 1, 20], "fields, expected 5"),
        (["audio", "c", "left", 1, 20, PCM], "expected one of"),
        (["audio", "c", "caller", "1", 20, PCM], "expected an integer"),
        (["cmd", "c", "explode", ""], "expected one of"),
    ],
)
def test_malformed_frames_are_refused_and_the_stream_goes_on(message: object, problem: str) -> None:
    reader = FrameReader()
    data = msgpack.packb(message, use_bin_type=True) + encode_frame(Ping(1))
    bad, good = list(reader.feed(data))
    assert isinstance(bad, BadFrame) and problem in bad.problem
    assert good == Ping(1)
