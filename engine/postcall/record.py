"""What one call leaves behind for the post-call work, and a bounded recorder that collects it
from the call's events.

The recorder is fed committed events in ``seq`` order. It keeps the final transcript lines of
both legs (at most ``max_lines``: later ones are dropped and counted, so an overlong call is
scored on its beginning; see docs/postcall.md), the coaching tips and alerts (at most
``max_marks``), and the latest value of every work-order field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from jiesu.engine.audio import Leg
from jiesu.engine.events import (
    CoachingTip,
    EmotionAlert,
    Event,
    EvidenceLine,
    RiskAlert,
    TicketField,
    TranscriptFinal,
)


@dataclass(frozen=True, slots=True)
class Line:
    """One final utterance."""

    leg: Leg
    t_start: int
    t_end: int
    text: str

    def evidence(self) -> EvidenceLine:
        return EvidenceLine(self.leg, self.t_start, self.text)


@dataclass(frozen=True, slots=True)
class Mark:
    """A coaching tip (``kind`` = its rule id) or an alert (``emotion:<emotion>``,
    ``risk:<kind>``) at media time ``t_media``."""

    t_media: int
    kind: str
    level: str
    text: str


@dataclass(frozen=True, slots=True)
class CallRecord:
    """Everything the scorer and the summary look at, frozen at hang-up."""

    call_id: str
    lines: tuple[Line, ...]
    tips: tuple[Mark, ...] = ()
    alerts: tuple[Mark, ...] = ()
    fields: Mapping[str, str] = field(default_factory=dict)
    #: Media time of ``call.ended`` (ms).
    ended_at: int = 0
    #: Lines and marks the recorder dropped at its bounds (the result says so).
    dropped: int = 0

    def by(self, leg: Leg) -> tuple[Line, ...]:
        return tuple(line for line in self.lines if line.leg is leg)


class CallRecorder:
    """Collects one call's record from its events, within fixed bounds."""

    def __init__(self, call_id: str, *, max_lines: int = 400, max_marks: int = 200) -> None:
        self.call_id = call_id
        self._max_lines = max_lines
        self._max_marks = max_marks
        self._lines: list[Line] = []
        self._seen: set[str] = set()
        self._tips: list[Mark] = []
        self._alerts: list[Mark] = []
        self._fields: dict[str, str] = {}
        self.dropped = 0

    def add(self, event: Event) -> None:
        payload = event.payload
        if isinstance(payload, TranscriptFinal):
            if payload.utterance_id in self._seen or not payload.text.strip():
                return
            if len(self._lines) >= self._max_lines:
                self.dropped += 1
                return
            self._seen.add(payload.utterance_id)
            self._lines.append(Line(payload.leg, payload.t_start, payload.t_end, payload.text))
        elif isinstance(payload, TicketField):
            if payload.value:
                self._fields[payload.field] = payload.value
            else:
                self._fields.pop(payload.field, None)
        elif isinstance(payload, CoachingTip):
            self._mark(self._tips, Mark(event.t_media, payload.tip_id, "info", payload.text))
        elif isinstance(payload, EmotionAlert):
            mark = Mark(event.t_media, f"emotion:{payload.emotion}", payload.level.value, "")
            self._mark(self._alerts, mark)
        elif isinstance(payload, RiskAlert):
            mark = Mark(event.t_media, f"risk:{payload.kind}", payload.level.value, payload.reason)
            self._mark(self._alerts, mark)

    def _mark(self, marks: list[Mark], mark: Mark) -> None:
        if len(marks) >= self._max_marks:
            self.dropped += 1
        else:
            marks.append(mark)

    def finish(self, ended_at: int) -> CallRecord:
        lines = tuple(sorted(self._lines, key=lambda line: (line.t_start, line.t_end)))
        return CallRecord(
            self.call_id,
            lines,
            tuple(self._tips),
            tuple(self._alerts),
            dict(self._fields),
            ended_at,
            self.dropped,
        )
