"""The closed set of call events, as typed frozen dataclasses, and their JSON/msgpack forms.

An :class:`Event` is an envelope (``call_id``, gap-free per-call ``seq``, ``t_media`` in ms from
the start of the call, ``t_wall`` in ms since the Unix epoch) around one payload. Stages create
payloads; the event log stamps ``seq`` and ``t_wall`` when it appends (see
:mod:`jiesu.engine.eventlog`), so no event reaches a screen before it is durable.

Wire form (JSON object, or the same map packed with msgpack)::

    {"v": 1, "type": "transcript.final", "call_id": "...", "seq": 7,
     "t_media": 5120, "t_wall": 1763900000000, "payload": {...}}

The JSON schema in ``agent_overlay/protocol.v1.schema.json`` is generated from these classes
(``jiesu schema``) and a test keeps the committed file in step.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import msgpack

from jiesu.engine.audio import Leg
from jiesu.engine.wire import ProtocolError, from_plain, to_plain

PROTOCOL_VERSION = 1


class CallMode(enum.StrEnum):
    """Who handles the call: an agent with Jiesu assisting, the voice IVR, or the automatic line."""

    ASSIST = "assist"
    IVR = "ivr"
    AFTER_HOURS = "after_hours"


class CallState(enum.StrEnum):
    RINGING = "ringing"
    TALKING = "talking"
    ON_HOLD = "on_hold"
    WRAP_UP = "wrap_up"


class AlertLevel(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class FieldOrigin(enum.StrEnum):
    """Who set a work-order field: the engine, or the agent (which locks it)."""

    AUTO = "auto"
    AGENT = "agent"


# --- nested values -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimedToken:
    """A word or character of a final transcript with its timing, when the model gives one."""

    text: str
    t_start: int
    t_end: int
    probability: float


@dataclass(frozen=True, slots=True)
class SourceSpan:
    """Where in the transcript a value came from: characters [start, end) of one utterance."""

    utterance_id: str
    char_start: int
    char_end: int


@dataclass(frozen=True, slots=True)
class ScoredValue:
    value: str
    score: float


# --- payloads ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallStarted:
    TYPE: ClassVar[str] = "call.started"
    hotline: str
    agent_id: str
    mode: CallMode
    legs: tuple[Leg, ...]
    #: The caller's number with the middle digits masked; the clear number never travels here.
    caller_masked: str = ""


@dataclass(frozen=True, slots=True)
class CallStateChanged:
    TYPE: ClassVar[str] = "call.state"
    state: CallState


@dataclass(frozen=True, slots=True)
class CallEnded:
    TYPE: ClassVar[str] = "call.ended"
    reason: str


@dataclass(frozen=True, slots=True)
class EvidenceLine:
    """A transcript line quoted as evidence (QA) or as a key sentence (summary)."""

    leg: Leg
    t_start: int
    text: str


@dataclass(frozen=True, slots=True)
class QaItem:
    """One rubric item's result: ``score`` of ``weight`` points, with the lines that justify it."""

    item_id: str
    name: str
    weight: float
    score: float
    passed: bool
    #: False when the item did not apply to this call (e.g. 安抚情绪 without an emotion alert).
    applicable: bool
    reason: str
    evidence: tuple[EvidenceLine, ...] = ()


@dataclass(frozen=True, slots=True)
class QaResult:
    """Post-call QA (全量质检) of one call, stored with the call before this event is appended."""

    TYPE: ClassVar[str] = "qa.result"
    rubric: str
    #: Points scored over the applicable items, scaled to 0..100.
    score: float
    passed: bool
    items: tuple[QaItem, ...] = ()


@dataclass(frozen=True, slots=True)
class SummaryField:
    name: str
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class CallSummary:
    """Post-call summary (extractive), stored with the call before this event is appended."""

    TYPE: ClassVar[str] = "call.summary"
    #: 诉求: request type, category, address and the caller's key sentences in one line.
    request: str
    #: 处理: what the agent said they would do (their last substantive sentences).
    handling: str
    fields: tuple[SummaryField, ...] = ()
    #: Alerts that fired, one short line each.
    alerts: tuple[str, ...] = ()
    key_lines: tuple[EvidenceLine, ...] = ()


@dataclass(frozen=True, slots=True)
class CallContext:
    """What a voice dialog learnt, handed over with the call to an agent (voice channel).

    From this event on the call belongs to ``agent_id``: that agent's screens get it on their
    board and open it, pre-filled with what the dialog heard.
    """

    TYPE: ClassVar[str] = "call.context"
    #: Who takes the call now (the agent's id on the screens).
    agent_id: str
    #: The configured target it was handed to (an agent or a skill group).
    target: str
    #: What the caller wants (consult, complaint, help, ...) and about what, as recognised.
    intent: str
    topic: str
    #: The caller's words as the dialog heard them (the line that decided the hand-over).
    said: str
    #: A ticket draft (name, callback number, address, ... as collected).
    fields: tuple[SummaryField, ...] = ()


@dataclass(frozen=True, slots=True)
class TranscriptPartial:
    """Provisional text of an utterance still being spoken; a later partial or final replaces it."""

    TYPE: ClassVar[str] = "transcript.partial"
    leg: Leg
    utterance_id: str
    text: str
    t_start: int
    t_end: int
    #: Leading characters of ``text`` that LocalAgreement has confirmed and will not change.
    stable_chars: int


@dataclass(frozen=True, slots=True)
class TranscriptFinal:
    TYPE: ClassVar[str] = "transcript.final"
    leg: Leg
    utterance_id: str
    text: str
    t_start: int
    t_end: int
    tokens: tuple[TimedToken, ...] = ()
    language: str = "zh"


@dataclass(frozen=True, slots=True)
class SpeakerTurn:
    TYPE: ClassVar[str] = "speaker.turn"
    leg: Leg
    speaker: str
    t_start: int
    t_end: int


@dataclass(frozen=True, slots=True)
class TicketField:
    """One work-order field was set or changed."""

    TYPE: ClassVar[str] = "ticket.field"
    field: str
    value: str
    confidence: float
    origin: FieldOrigin
    locked: bool
    source: SourceSpan | None = None
    #: Ranked alternatives (for the department: the top-3 with probabilities).
    alternatives: tuple[ScoredValue, ...] = ()


@dataclass(frozen=True, slots=True)
class KnowledgeSuggestion:
    TYPE: ClassVar[str] = "kb.suggestion"
    entry_id: str
    version: str
    title: str
    answer: str
    score: float
    keywords: tuple[str, ...] = ()
    trigger_utterance_id: str = ""


@dataclass(frozen=True, slots=True)
class CallerProfile:
    """诉求人画像: the caller's past tickets, found by their number at call start."""

    TYPE: ClassVar[str] = "caller.profile"
    #: The caller's number masked; the clear number never travels here.
    caller_masked: str
    ticket_count: int
    open_count: int
    #: Level-1 categories of past tickets with their counts (as the score), most frequent first.
    categories: tuple[ScoredValue, ...] = ()
    last_ticket_id: str = ""
    last_category: str = ""
    last_status: str = ""
    last_outcome: str = ""
    #: ``t_wall`` (ms since the Unix epoch) of the last ticket; 0 when there is none.
    last_at: int = 0


@dataclass(frozen=True, slots=True)
class EmotionAlert:
    TYPE: ClassVar[str] = "alert.emotion"
    leg: Leg
    level: AlertLevel
    emotion: str
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class RiskAlert:
    TYPE: ClassVar[str] = "alert.risk"
    kind: str
    level: AlertLevel
    reason: str
    quote: str = ""


@dataclass(frozen=True, slots=True)
class CoachingTip:
    TYPE: ClassVar[str] = "coach.tip"
    tip_id: str
    text: str


@dataclass(frozen=True, slots=True)
class TicketStatus:
    """The agent submitted the work order (``submitted``) or sent it to a department
    (``dispatched``); stored on the ticket before this event is appended."""

    TYPE: ClassVar[str] = "ticket.status"
    ticket_id: str
    status: str
    department: str = ""
    #: The ``sub`` of the screen's token that acted.
    by: str = ""


Payload = (
    CallStarted
    | CallStateChanged
    | CallEnded
    | QaResult
    | CallSummary
    | CallContext
    | TranscriptPartial
    | TranscriptFinal
    | SpeakerTurn
    | TicketField
    | KnowledgeSuggestion
    | CallerProfile
    | EmotionAlert
    | RiskAlert
    | CoachingTip
    | TicketStatus
)

PAYLOAD_TYPES: MappingProxyType[str, type[Payload]] = MappingProxyType(
    {
        cls.TYPE: cls
        for cls in (
            CallStarted,
            CallStateChanged,
            CallEnded,
            QaResult,
            CallSummary,
            CallContext,
            TranscriptPartial,
            TranscriptFinal,
            SpeakerTurn,
            TicketField,
            KnowledgeSuggestion,
            CallerProfile,
            EmotionAlert,
            RiskAlert,
            CoachingTip,
            TicketStatus,
        )
    }
)

#: Event types a slow screen may lose to a newer one of the same kind (latest wins).
COALESCABLE_TYPES = frozenset({TranscriptPartial.TYPE})
#: Event types shown on the board (the list of live calls): call life-cycle and alerts.
BOARD_TYPES = frozenset(
    {
        CallStarted.TYPE,
        CallStateChanged.TYPE,
        CallEnded.TYPE,
        CallContext.TYPE,
        EmotionAlert.TYPE,
        RiskAlert.TYPE,
    }
)


@dataclass(frozen=True, slots=True)
class Event:
    """A payload stamped by the event log: the unit that is stored, sent and resumed."""

    call_id: str
    seq: int
    t_media: int
    t_wall: int
    payload: Payload

    @property
    def type(self) -> str:
        return self.payload.TYPE

    def coalesce_key(self) -> tuple[str, str] | None:
        """Events with the same key replace each other in a slow screen's queue; None: never."""
        if isinstance(self.payload, TranscriptPartial):
            return (self.call_id, self.payload.leg.value)
        return None


def event_to_plain(event: Event) -> dict[str, Any]:
    return {
        "v": PROTOCOL_VERSION,
        "type": event.type,
        "call_id": event.call_id,
        "seq": event.seq,
        "t_media": event.t_media,
        "t_wall": event.t_wall,
        "payload": to_plain(event.payload),
    }


def event_from_plain(data: object) -> Event:
    """Validate and build an event; raises :class:`ProtocolError` on anything unexpected."""
    if not isinstance(data, dict):
        raise ProtocolError(f"event must be an object, got {type(data).__name__}")
    expected = {"v", "type", "call_id", "seq", "t_media", "t_wall", "payload"}
    if set(data) != expected:
        missing, extra = expected - set(data), set(data) - expected
        raise ProtocolError(f"event fields: missing {sorted(missing)}, unexpected {sorted(extra)}")
    if data["v"] != PROTOCOL_VERSION:
        raise ProtocolError(f"unsupported protocol version {data['v']!r}", code="bad_version")
    payload_cls = PAYLOAD_TYPES.get(data["type"]) if isinstance(data["type"], str) else None
    if payload_cls is None:
        raise ProtocolError(f"unknown event type {data['type']!r}", code="unknown_type")
    envelope = from_plain(_Envelope, {k: data[k] for k in ("call_id", "seq", "t_media", "t_wall")})
    payload = from_plain(payload_cls, data["payload"], "$.payload")
    return Event(envelope.call_id, envelope.seq, envelope.t_media, envelope.t_wall, payload)


@dataclass(frozen=True, slots=True)
class _Envelope:
    call_id: str
    seq: int
    t_media: int
    t_wall: int


def event_to_json(event: Event) -> str:
    return json.dumps(event_to_plain(event), ensure_ascii=False, separators=(",", ":"))


def event_from_json(text: str | bytes) -> Event:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}", code="bad_json") from None
    return event_from_plain(data)


def event_to_msgpack(event: Event) -> bytes:
    return msgpack.packb(event_to_plain(event), use_bin_type=True)


def event_from_msgpack(data: bytes) -> Event:
    try:
        plain = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise ProtocolError(f"not msgpack: {exc}", code="bad_msgpack") from None
    return event_from_plain(plain)
