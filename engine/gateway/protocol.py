"""Screen control messages: typed frozen dataclasses and their JSON text form.

A screen talks to the gateway in JSON text frames, each an object with a ``type``. The client
sends ``hello`` (once, first), ``follow``, ``unfollow`` and the work-order commands
``ticket.edit``, ``ticket.submit`` and ``ticket.dispatch`` (:mod:`jiesu.engine.screen_commands`);
the server answers with ``welcome``, ``following``, ``unfollowed``, ``error`` and ``resync``,
and streams call events in their own form (:func:`jiesu.engine.events.event_to_json`). See ``docs/screen-protocol.md``.

Parsing is strict (unknown or missing fields, wrong types and unknown types are refused with a
:class:`~jiesu.engine.wire.ProtocolError` whose ``code`` says why) and never echoes a token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Literal

from jiesu.engine.screen_commands import DispatchTicket, EditField, SubmitTicket
from jiesu.engine.wire import ProtocolError, from_plain, to_plain

#: Version of the screen protocol spoken by this gateway (``hello.protocol``).
SCREEN_PROTOCOL = 1


# --- client -> server ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """First message of every connection: protocol version and the signed token."""

    type: Literal["hello"] = field(default="hello", kw_only=True)
    protocol: int
    #: An absent token is kept as "" so that it is refused as ``missing``, like an empty one.
    token: str = ""

    def __repr__(self) -> str:  # never let a token reach a log line through repr()
        return f"Hello(protocol={self.protocol!r}, token=<{len(self.token)} chars>)"


@dataclass(frozen=True, slots=True)
class Follow:
    """Stream every event of ``call_id`` with ``seq > after_seq``: history first, then live."""

    type: Literal["follow"] = field(default="follow", kw_only=True)
    call_id: str
    after_seq: int = 0

    def __post_init__(self) -> None:
        if not self.call_id:
            raise ValueError("call_id must not be empty")
        if self.after_seq < 0:
            raise ValueError("after_seq must be >= 0")


@dataclass(frozen=True, slots=True)
class Unfollow:
    type: Literal["unfollow"] = field(default="unfollow", kw_only=True)
    call_id: str


ClientMessage = Hello | Follow | Unfollow | EditField | SubmitTicket | DispatchTicket


def wire_name(cls: type[Any]) -> str:
    """The ``type`` a message class carries on the wire (the default of its ``type`` field)."""
    for f in fields(cls):
        if f.name == "type" and isinstance(f.default, str):
            return f.default
    raise TypeError(f"{cls.__name__} has no 'type' field with a default")


CLIENT_TYPES: MappingProxyType[str, type[ClientMessage]] = MappingProxyType(
    {
        wire_name(cls): cls
        for cls in (Hello, Follow, Unfollow, EditField, SubmitTicket, DispatchTicket)
    }
)


# --- server -> client ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoardEntry:
    """One live call on the board, as the event log knows it when the screen connects."""

    call_id: str
    hotline: str
    agent_id: str
    mode: str
    state: str
    #: ``t_wall`` (ms since the Unix epoch) of the call's ``call.started`` event.
    started_at: int


@dataclass(frozen=True, slots=True)
class Welcome:
    type: Literal["welcome"] = field(default="welcome", kw_only=True)
    protocol: int
    sub: str
    role: str
    hotline: str
    calls: tuple[BoardEntry, ...]


@dataclass(frozen=True, slots=True)
class Following:
    """A follow was accepted; the call's events with ``seq > after_seq`` come next."""

    type: Literal["following"] = field(default="following", kw_only=True)
    call_id: str
    after_seq: int


@dataclass(frozen=True, slots=True)
class Unfollowed:
    type: Literal["unfollowed"] = field(default="unfollowed", kw_only=True)
    call_id: str


@dataclass(frozen=True, slots=True)
class Error:
    """``code`` is the class of error, ``reason`` a machine-readable detail of it."""

    type: Literal["error"] = field(default="error", kw_only=True)
    code: str
    reason: str = ""
    #: The call the error is about (follow/unfollow errors); omitted otherwise.
    call_id: str | None = None
    #: Human-readable explanation; omitted when there is nothing to add.
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Resync:
    """The screen fell too far behind: its queue is dropped and the connection closed (4408)."""

    type: Literal["resync"] = field(default="resync", kw_only=True)
    reason: str


ServerMessage = Welcome | Following | Unfollowed | Error | Resync

SERVER_TYPES: MappingProxyType[str, type[ServerMessage]] = MappingProxyType(
    {wire_name(cls): cls for cls in (Welcome, Following, Unfollowed, Error, Resync)}
)

#: Every control message class, for the protocol's JSON schema (``jiesu schema``).
CONTROL_MESSAGES: tuple[type[ClientMessage | ServerMessage], ...] = (
    *CLIENT_TYPES.values(),
    *SERVER_TYPES.values(),
)


# --- close codes ---------------------------------------------------------------------------

#: Too many malformed messages.
CLOSE_BAD_MESSAGES = 4400
#: Authentication refused (no hello in time, bad or expired token, wrong role), or the token
#: expired while connected.
CLOSE_AUTH_FAILED = 4401
#: Slow consumer: the screen's queue overflowed; reconnect and resume.
CLOSE_RESYNC = 4408
#: Too many screens: try again later (standard "try again later" code).
CLOSE_TRY_AGAIN_LATER = 1013


# --- encoding ------------------------------------------------------------------------------


def message_to_plain(message: ServerMessage | ClientMessage) -> dict[str, Any]:
    """The message as a JSON-ready dict; optional fields that are None are left out."""
    return {k: v for k, v in to_plain(message).items() if v is not None}


def message_to_json(message: ServerMessage | ClientMessage) -> str:
    return json.dumps(message_to_plain(message), ensure_ascii=False, separators=(",", ":"))


def _parse(text: str | bytes, types: MappingProxyType[str, Any]) -> Any:
    if isinstance(text, bytes | bytearray | memoryview):
        raise ProtocolError("binary frames are not part of the screen protocol", code="binary")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {exc.__class__.__name__}", code="bad_json") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"expected a JSON object, got {type(data).__name__}", code="not_object")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("missing or non-string 'type'", code="unknown_type")
    cls = types.get(kind)
    if cls is None:
        raise ProtocolError(f"unknown message type {kind[:40]!r}", code="unknown_type")
    try:
        return from_plain(cls, data)
    except ProtocolError as exc:
        raise ProtocolError(str(exc), code="bad_fields") from None


def parse_client_message(text: str | bytes) -> ClientMessage:
    """Decode one frame from a screen; raises :class:`ProtocolError` (``code`` says why)."""
    message: ClientMessage = _parse(text, CLIENT_TYPES)
    return message


def parse_server_message(text: str | bytes) -> ServerMessage:
    """Decode a control message sent by the gateway (for clients and tests)."""
    message: ServerMessage = _parse(text, SERVER_TYPES)
    return message
