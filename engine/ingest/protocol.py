"""Wire frames of the websocket audio ingest, and their msgpack form.

Every websocket message is one binary message holding one msgpack map with a ``"type"`` key;
the other keys are the fields of the frame's dataclass below. Decoding is strict (via
:mod:`jiesu.engine.wire`): a missing or unknown key, a value of the wrong type or out of range
raises :class:`~jiesu.engine.wire.ProtocolError` whose ``code`` says what was wrong
(``bad_msgpack``, ``not_a_map``, ``unknown_type``, ``bad_message``). The full protocol, with the
error codes the server sends, is described in ``docs/audio-ingest.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

import msgpack

from jiesu.engine.audio import Leg
from jiesu.engine.calls import CallStats
from jiesu.engine.events import CallMode
from jiesu.engine.wire import ProtocolError, from_plain, to_plain

#: Version of this protocol, announced in ``welcome``.
INGEST_PROTOCOL_VERSION = 1

MAX_ID_CHARS = 128
MAX_TOKEN_CHARS = 4096
MAX_REASON_CHARS = 128
MAX_PHONE_CHARS = 32
MIN_RATE_HZ = 8_000
MAX_RATE_HZ = 48_000
#: Packet times a call may use, in ms.
PTIMES_MS = (10, 20, 30, 40, 60, 80, 100, 120)
#: Sequence numbers are non-negative and below 2**31 (more than a year of 20 ms frames).
MAX_SEQ = 2**31 - 1

_CODEC_RE = re.compile(r"^[a-z0-9_]{1,16}$")
_PHONE_RE = re.compile(r"^[0-9+\- ]*$")


def _check_id(name: str, value: str, *, allow_empty: bool = False) -> None:
    if not value and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    if len(value) > MAX_ID_CHARS:
        raise ValueError(f"{name} longer than {MAX_ID_CHARS} characters")
    if not value.isprintable():
        raise ValueError(f"{name} contains control characters")


def _check_codec(value: str) -> None:
    if not _CODEC_RE.match(value):
        raise ValueError(f"codec must be 1-16 lowercase letters, digits or '_', got {value!r}")


# --- client -> server ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """First message of a connection: the access token (role ``ingest``)."""

    TYPE: ClassVar[str] = "hello"
    token: str
    #: Free-form name of the client for log lines (e.g. "pbx-connector-2").
    client: str = ""

    def __post_init__(self) -> None:
        if len(self.token) > MAX_TOKEN_CHARS:
            raise ValueError(f"token longer than {MAX_TOKEN_CHARS} characters")
        _check_id("client", self.client, allow_empty=True)


@dataclass(frozen=True, slots=True)
class Start:
    """Opens a call; every leg then streams ``audio`` frames with ``seq`` counting from 0."""

    TYPE: ClassVar[str] = "start"
    call_id: str
    hotline: str
    agent_id: str
    codec: str
    #: Sample rate of the codec's PCM in Hz (8000 for pcmu/pcma, 16000 for g722).
    rate: int
    legs: tuple[Leg, ...]
    mode: CallMode = CallMode.ASSIST
    ptime_ms: int = 20
    #: The caller's number in clear; masked at once, never logged, never stored in clear.
    caller_number: str = ""

    def __post_init__(self) -> None:
        _check_id("call_id", self.call_id)
        _check_id("hotline", self.hotline)
        _check_id("agent_id", self.agent_id, allow_empty=True)
        _check_codec(self.codec)
        if not MIN_RATE_HZ <= self.rate <= MAX_RATE_HZ:
            raise ValueError(f"rate must be {MIN_RATE_HZ}-{MAX_RATE_HZ} Hz, got {self.rate}")
        if not self.legs:
            raise ValueError("legs must not be empty")
        if len(set(self.legs)) != len(self.legs):
            raise ValueError("legs must not repeat")
        if self.ptime_ms not in PTIMES_MS:
            raise ValueError(f"ptime_ms must be one of {list(PTIMES_MS)}, got {self.ptime_ms}")
        if len(self.caller_number) > MAX_PHONE_CHARS or not _PHONE_RE.match(self.caller_number):
            # The value itself is personal data: never echo it in the message.
            raise ValueError("caller_number must be digits, '+', '-' or spaces (at most 32)")


@dataclass(frozen=True, slots=True)
class Audio:
    """One packet time of one leg, encoded with the call's codec."""

    TYPE: ClassVar[str] = "audio"
    call_id: str
    leg: Leg
    seq: int
    codec: str
    payload: bytes

    def __post_init__(self) -> None:
        _check_id("call_id", self.call_id)
        _check_codec(self.codec)
        if not 0 <= self.seq <= MAX_SEQ:
            raise ValueError(f"seq must be 0-{MAX_SEQ}, got {self.seq}")


@dataclass(frozen=True, slots=True)
class Stop:
    """Ends a call; answered with ``stopped`` and the call's statistics."""

    TYPE: ClassVar[str] = "stop"
    call_id: str
    reason: str = "hangup"

    def __post_init__(self) -> None:
        _check_id("call_id", self.call_id)
        if not self.reason or len(self.reason) > MAX_REASON_CHARS or not self.reason.isprintable():
            raise ValueError(f"reason must be 1-{MAX_REASON_CHARS} printable characters")


# --- server -> client ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Welcome:
    TYPE: ClassVar[str] = "welcome"
    v: int = INGEST_PROTOCOL_VERSION
    max_frame_bytes: int = 0
    codecs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Started:
    TYPE: ClassVar[str] = "started"
    call_id: str


@dataclass(frozen=True, slots=True)
class Stopped:
    TYPE: ClassVar[str] = "stopped"
    call_id: str
    reason: str
    stats: CallStats


@dataclass(frozen=True, slots=True)
class Error:
    """Something the client sent was refused or dropped; the connection stays usable unless the
    server closes it (only for authentication failures)."""

    TYPE: ClassVar[str] = "error"
    code: str
    message: str
    call_id: str | None = None
    leg: str | None = None
    seq: int | None = None
    #: Error frames not sent since the previous one because of the notice rate limit.
    suppressed: int = 0


ClientFrame = Hello | Start | Audio | Stop
ServerFrame = Welcome | Started | Stopped | Error

CLIENT_FRAMES: dict[str, type[Any]] = {cls.TYPE: cls for cls in (Hello, Start, Audio, Stop)}
SERVER_FRAMES: dict[str, type[Any]] = {cls.TYPE: cls for cls in (Welcome, Started, Stopped, Error)}


def encode_frame(frame: ClientFrame | ServerFrame) -> bytes:
    """The msgpack bytes of a frame (``type`` first, then its fields)."""
    plain = {"type": frame.TYPE, **to_plain(frame)}
    packed: bytes = msgpack.packb(plain, use_bin_type=True)
    return packed


def unpack_map(data: bytes) -> dict[str, Any]:
    """msgpack bytes -> a map with a string ``type``; ProtocolError otherwise."""
    try:
        plain = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises a zoo of types on hostile input; all mean the same
        raise ProtocolError(f"not msgpack: {type(exc).__name__}", code="bad_msgpack") from None
    if not isinstance(plain, dict):
        raise ProtocolError(
            f"a message must be a msgpack map, got {type(plain).__name__}", code="not_a_map"
        )
    if not isinstance(plain.get("type"), str):
        raise ProtocolError("a message needs a string 'type'", code="unknown_type")
    return plain


def _decode(data: bytes, table: dict[str, type[Any]]) -> Any:
    plain = unpack_map(data)
    kind = plain.pop("type")
    cls = table.get(kind)
    if cls is None:
        raise ProtocolError(
            f"unknown message type {kind[:40]!r} (expected one of {sorted(table)})",
            code="unknown_type",
        )
    return from_plain(cls, plain, f"{kind}")


def decode_client_frame(data: bytes) -> ClientFrame:
    """Validate and build a client frame; ProtocolError (with ``code``) on anything unexpected."""
    frame: ClientFrame = _decode(data, CLIENT_FRAMES)
    return frame


def decode_server_frame(data: bytes) -> ServerFrame:
    frame: ServerFrame = _decode(data, SERVER_FRAMES)
    return frame
