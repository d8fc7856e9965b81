"""The assist stages' I/O edge: committed call events in, work-order events and tickets out.

:class:`AssistService` follows the event log through a :class:`~jiesu.engine.follower.Follower`
(so it sees exactly what the screens see, in ``seq`` order, only once durable; one worker task
per call):

* ``call.started``: the caller's past tickets (by the keyed hash of their number) become a
  ``caller.profile`` event, and the call's ticket is created (idempotent per call).
* ``transcript.final`` of either leg: stored as transcript, run through the pure
  :class:`~jiesu.engine.assist.filler.TicketFiller` (on a worker thread: the models never run on
  the event loop, so a slow stage never holds up audio), the resulting ``ticket.field`` events
  appended, the ticket saved and checked for duplicates.
* ``call.ended``: the ticket is saved a last time; the order stays editable for wrap-up.

Queue policy: the follower's (a bounded queue per call; on overflow the worker reads what it
missed back from the event log by ``seq``, ``assist_queue_overflows_total``): nothing is lost.

An agent's field edit (``ticket.edit`` from the screen) is applied under the call's lock, after
any final being processed, and locks the field against every later automatic update.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from jiesu.engine.assist.filler import (
    FillerState,
    TicketFiller,
    conversation_text,
    reference_from_ms,
)
from jiesu.engine.assist.toolkit import Knowledge, TrackerLike
from jiesu.engine.calls import IngestCall
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import (
    CallEnded,
    CallerProfile,
    CallStarted,
    Event,
    KnowledgeSuggestion,
    Payload,
    ScoredValue,
    TicketField,
    TicketStatus,
    TranscriptFinal,
)
from jiesu.engine.follower import Follower
from jiesu.engine.metrics import Metrics
from jiesu.engine.privacy import mask_phone
from jiesu.engine.screen_commands import (
    DispatchTicket,
    EditField,
    EditRefused,
    SubmitTicket,
    TicketRequest,
)
from jiesu.engine.service_threads import ServiceThreads
from jiesu.engine.storage.base import CallerHistory, TicketStore, TranscriptRow
from jiesu.engine.storage.keys import CallerKeyer, address_key

log = logging.getLogger(__name__)

_RELEVANT = (CallStarted, TranscriptFinal, CallEnded)


@dataclass
class _Call:
    call_id: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    state: FillerState | None = None
    caller_key: str = ""
    caller_masked: str = ""
    #: Media time of the newest event handled (edits are stamped with it).
    t_media: int = 0
    #: (address key, category) last checked for duplicates.
    checked: tuple[str, str] = ("", "")
    #: Knowledge cards: the call's tracker and the (entry id, version) of the cards shown.
    tracker: TrackerLike | None = None
    cards: frozenset[tuple[str, str]] = frozenset()


class AssistService:
    """Runs the ticket filler for every call and keeps the tickets in the store."""

    def __init__(
        self,
        event_log: EventLog,
        filler: TicketFiller,
        metrics: Metrics,
        *,
        hotline: str,
        store: TicketStore | None = None,
        caller_keyer: CallerKeyer | None = None,
        queue_limit: int = 256,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._log = event_log
        self._filler = filler
        self._metrics = metrics
        self._hotline = hotline
        self._keyer = caller_keyer
        self._clock_ms = clock_ms
        self._follower = Follower(
            event_log,
            self._handle,
            metrics,
            name="assist",
            new_state=_Call,
            wants=lambda e: isinstance(e.payload, _RELEVANT),
            queue_limit=queue_limit,
            # Finished calls' orders can still be edited (wrap-up), oldest forgotten first.
            keep_finished=True,
        )
        self._closed = False
        self._threads = ServiceThreads("assist", metrics, store)

    # --- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._follower.start()

    async def close(self, drain_s: float = 30.0) -> None:
        """Stop listening, finish what is queued (at most ``drain_s``), release the threads and
        the store (once)."""
        if self._closed:
            return
        self._closed = True
        await self._follower.close(drain_s)
        await self._threads.close()

    async def idle(self) -> None:
        """Wait until every event published so far has been handled (tests, shutdown)."""
        await self._follower.idle()

    def open_call(self, call: IngestCall) -> None:
        """Called by the ingest sink before the call's ``call.started`` is appended: the caller's
        key goes on the call's state (a call never started is evicted, as any that never ends)."""
        if (state := self._follower.open(call.call_id)) is not None:
            state.caller_key, state.caller_masked = call.caller_key, call.caller_masked

    async def call_done(self, call_id: str) -> None:
        """Wait until the call's worker has ended (its ``call.ended`` handled, the order saved);
        at once for a call this service does not hold (the post-call QA waits on this)."""
        await self._follower.call_done(call_id)

    def order(self, call_id: str) -> FillerState | None:
        call = self._follower.state(call_id)
        return call.state if call is not None else None

    # --- a call's worker (the follower's) -------------------------------------------------

    async def _handle(self, call: _Call, event: Event) -> None:
        call.t_media = max(call.t_media, event.t_media)
        async with call.lock:
            payload = event.payload
            if isinstance(payload, CallStarted):
                await self._started(call, event, payload)
            elif isinstance(payload, TranscriptFinal):
                await self._final(call, event, payload)
            elif isinstance(payload, CallEnded):
                await self._save(call)

    def _ensure_state(self, call: _Call, t_wall: int) -> FillerState:
        if call.state is None:
            call.state = self._filler.start(call.call_id, reference_from_ms(t_wall))
        return call.state

    async def _started(self, call: _Call, event: Event, payload: CallStarted) -> None:
        key = call.caller_key
        call.caller_masked = call.caller_masked or payload.caller_masked
        self._ensure_state(call, event.t_wall)
        history = CallerHistory(0, 0, (), "", "", "", "", 0)
        if self._threads.store is not None:
            found = await self._threads.stored(lambda s: s.caller_history(key, call.call_id))
            if found is not None:
                history = found
            await self._save(call)
        profile = CallerProfile(
            caller_masked=call.caller_masked,
            ticket_count=history.count,
            open_count=history.open_count,
            categories=tuple(ScoredValue(c, float(n)) for c, n in history.categories),
            last_ticket_id=history.last_ticket_id,
            last_category=history.last_category,
            last_status=history.last_status,
            last_outcome=history.last_outcome,
            last_at=history.last_at,
        )
        await self._log.append(call.call_id, event.t_media, profile)

    async def _final(self, call: _Call, event: Event, final: TranscriptFinal) -> None:
        state = self._ensure_state(call, event.t_wall)
        if self._threads.store is not None:
            row = TranscriptRow(
                call.call_id,
                final.utterance_id,
                final.leg.value,
                final.t_start,
                final.t_end,
                final.text,
            )
            await self._threads.stored(lambda s: s.add_transcript(row))
        began = time.monotonic()
        context = conversation_text(state)
        state, fields = await self._threads.compute(self._filler.on_final, state, final)
        self._metrics.inc("assist_fill_seconds_total", time.monotonic() - began)
        call.state = state
        await self._publish(call, event.t_media, fields)
        if fields:
            await self._save(call)
            await self._check_duplicates(call, event.t_media)
        knowledge = self._filler.toolkit.knowledge
        if knowledge is not None:
            if call.tracker is None:
                call.tracker = knowledge.new_tracker()
            cards = await self._threads.compute(_suggest, knowledge, call.tracker, final, context)
            shown = frozenset((c.entry_id, c.version) for c in cards)
            fresh = [c for c in cards if (c.entry_id, c.version) not in call.cards]
            call.cards = shown
            if fresh:
                await self._log.append_many(call.call_id, [(event.t_media, c) for c in fresh])
                self._metrics.inc("assist_kb_suggestions_total", len(fresh))

    async def _check_duplicates(self, call: _Call, t_media: int) -> None:
        state = call.state
        if self._threads.store is None or state is None:
            return
        schema = self._filler.schema
        category_spec = schema.by_kind("category")
        category = state.order.value(category_spec.name) if category_spec else ""
        place = address_key(state.address)
        if not place or not category or (place, category) == call.checked:
            return
        call.checked = (place, category)
        since = self._clock_ms() - int(schema.duplicate_window_days * 86_400_000)
        found = await self._threads.stored(
            lambda s: s.find_duplicates(place, category, since, call.call_id)
        )
        if found:
            state, fields = self._filler.set_duplicates(state, [t.ticket_id for t in found])
            call.state = state
            self._metrics.inc("assist_duplicates_found_total")
            await self._publish(call, t_media, fields)
            await self._save(call)

    async def _publish(self, call: _Call, t_media: int, fields: list[TicketField]) -> None:
        if not fields:
            return
        items: list[tuple[int, Payload]] = [(t_media, f) for f in fields]
        await self._log.append_many(call.call_id, items)
        self._metrics.inc("assist_ticket_fields_total", len(fields))

    async def _save(self, call: _Call) -> None:
        state = call.state
        if self._threads.store is None or state is None:
            return
        schema = self._filler.schema
        fields = state.order.plain()
        key = call.caller_key
        phone_spec = schema.by_kind("phone")
        if not key and self._keyer is not None and phone_spec is not None:
            # A hidden or unknown caller number: key the history by the callback number.
            key = self._keyer(fields.get(phone_spec.name, ""))
        category_spec = schema.by_kind("category")
        category = fields.get(category_spec.name, "") if category_spec else ""
        place = address_key(state.address)
        call_id, hotline = call.call_id, self._hotline
        await self._threads.stored(
            lambda s: s.save_ticket(
                call_id, hotline, fields, caller_key=key, category=category, address_key=place
            )
        )

    # --- agent edits -----------------------------------------------------------------------

    async def edit(self, sub: str, request: TicketRequest) -> None:
        """Apply an agent's work-order action (the gateway's field editor); raises EditRefused."""
        call = self._follower.state(request.call_id)
        if call is None or call.state is None:
            raise EditRefused("not_active", "no work order for this call in this engine")
        if isinstance(request, EditField):
            await self._edit_field(call, sub, request.field, request.value)
        elif isinstance(request, DispatchTicket):
            spec = self._filler.schema.by_kind("department")
            if spec is None:
                raise EditRefused("unavailable", "this work order has no department field")
            await self._edit_field(call, sub, spec.name, request.department.strip())
            await self._set_status(call, sub, "dispatched", request.department.strip())
        elif isinstance(request, SubmitTicket):
            await self._set_status(call, sub, "submitted", "")

    async def _edit_field(self, call: _Call, sub: str, name: str, value: str) -> None:
        if not self._filler.schema.accepts(name):
            raise EditRefused("unknown_field", f"no field {name[:40]!r}")
        async with call.lock:
            assert call.state is not None
            state, fields = self._filler.edit(call.state, name, value)
            call.state = state
            # Stored before it is shown: the screen's echo means the ticket has the value.
            await self._save(call)
            await self._publish(call, call.t_media, fields)
        self._metrics.inc("assist_agent_edits_total")
        log.info(
            "call %s: agent %s set %s (%s)",
            call.call_id,
            sub,
            name,
            mask_phone(value) if any(ch.isdigit() for ch in value) else "…",
        )

    async def _set_status(self, call: _Call, sub: str, status: str, department: str) -> None:
        """Submit/dispatch: stored on the ticket first, then announced as ``ticket.status``."""
        if self._threads.store is None:
            raise EditRefused("unavailable", "tickets are not stored in this engine")
        async with call.lock:
            await self._save(call)
            call_id = call.call_id
            record = await self._threads.stored(lambda s: s.set_status(call_id, status, department))
            if record is None:
                raise EditRefused("storage_failed", "the ticket could not be stored")
            status_event = TicketStatus(record.ticket_id, status, department, by=sub)
            await self._log.append(call.call_id, call.t_media, status_event)
        self._metrics.inc("assist_ticket_status_total", labels={"status": status})
        log.info("call %s: agent %s %s ticket %s", call.call_id, sub, status, record.ticket_id)


def _suggest(
    knowledge: Knowledge, tracker: TrackerLike, final: TranscriptFinal, context: str
) -> list[KnowledgeSuggestion]:
    """Search on the newest utterance in its conversation; the tracker decides what is shown
    (a card is replaced only by a clearly better one), so screens do not flicker."""
    hits = knowledge.search(final.text, context)
    return [
        KnowledgeSuggestion(
            entry_id=hit.entry_id,
            version=hit.version,
            title=hit.title,
            answer=hit.snippet,
            score=round(float(hit.score), 4),
            keywords=tuple(hit.matched_keywords),
            trigger_utterance_id=final.utterance_id,
        )
        for hit in tracker.update(hits)
    ]
