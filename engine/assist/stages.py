"""The assist stages' I/O edge: committed call events in, work-order events and tickets out.

:class:`AssistService` subscribes to the :class:`~jiesu.engine.eventlog.EventLog` (so it sees
exactly what the screens see, in ``seq`` order, only once durable). Per call it keeps a bounded
queue and one worker task:

* ``call.started``: the caller's past tickets (by the keyed hash of their number) become a
  ``caller.profile`` event, and the call's ticket is created (idempotent per call).
* ``transcript.final`` of either leg: stored as transcript, run through the pure
  :class:`~jiesu.engine.assist.filler.TicketFiller` (on a worker thread: the models never run on
  the event loop, so a slow stage never holds up audio), the resulting ``ticket.field`` events
  appended, the ticket saved and checked for duplicates.
* ``call.ended``: the ticket is saved a last time; the order stays editable for wrap-up.

Queue policy: the log listener never blocks. When a call's queue is full its events are not
queued; the worker, once it has caught up, reads what it missed back from the event log (by
``seq``), so nothing is lost and memory stays bounded.

An agent's field edit (``ticket.edit`` from the screen) is applied under the call's lock, after
any final being processed, and locks the field against every later automatic update.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

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
from jiesu.engine.gateway.protocol import DispatchTicket, EditField, SubmitTicket
from jiesu.engine.gateway.server import EditRefused, TicketRequest
from jiesu.engine.metrics import Metrics
from jiesu.engine.privacy import mask_phone
from jiesu.engine.storage.base import CallerHistory, TicketStore, TranscriptRow
from jiesu.engine.storage.keys import CallerKeyer, address_key

log = logging.getLogger(__name__)

R = TypeVar("R")

_RELEVANT = (CallStarted, TranscriptFinal, CallEnded)
#: Finished calls whose order can still be edited (wrap-up), oldest forgotten first.
FINISHED_KEPT = 1000
#: Caller keys waiting for their call's first event.
MAX_PENDING_KEYS = 10_000


@dataclass
class _Call:
    call_id: str
    queue: asyncio.Queue[Event]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    state: FillerState | None = None
    caller_key: str = ""
    caller_masked: str = ""
    #: Highest seq handled: events at or below it (seen twice after an overflow) are skipped.
    last_seq: int = 0
    overflow: bool = False
    #: The worker is handling an event (taken off the queue, not finished).
    busy: bool = False
    ended: bool = False
    worker: asyncio.Task[None] | None = None
    #: Media time of the newest event handled (edits are stamped with it).
    t_media: int = 0
    #: (address key, category) last checked for duplicates.
    checked: tuple[str, str] = ("", "")
    #: Knowledge cards: the call's tracker and the (entry id, version) of the cards shown.
    tracker: TrackerLike | None = None
    cards: frozenset[tuple[str, str]] = frozenset()

    def done(self) -> bool:
        """The call has ended (a method, so that type narrowing does not stick)."""
        return self.ended


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
        self._store = store
        self._keyer = caller_keyer
        self._queue_limit = queue_limit
        self._clock_ms = clock_ms
        self._calls: dict[str, _Call] = {}
        self._finished: OrderedDict[str, _Call] = OrderedDict()
        #: Caller keys handed over by the ingest before the call's first event.
        self._pending_keys: dict[str, tuple[str, str]] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._closed = False
        #: Set whenever a worker finishes an item (what :meth:`idle` waits on).
        self._progress = asyncio.Event()
        # One thread for the models (filler) and one that owns the store's connection.
        self._compute = ThreadPoolExecutor(1, thread_name_prefix="assist")
        self._storage = ThreadPoolExecutor(1, thread_name_prefix="assist-store")

    # --- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._unsubscribe = self._log.subscribe(self._on_event)

    async def close(self) -> None:
        """Stop listening, stop the workers, release the threads and the store (once)."""
        if self._closed:
            return
        self._closed = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        workers = [c.worker for c in self._calls.values() if c.worker is not None]
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._compute.shutdown(wait=True)
        store = self._store
        if store is not None:
            self._storage.submit(store.close).result()
        self._storage.shutdown(wait=True)

    async def idle(self) -> None:
        """Wait until every event published so far has been handled (tests, shutdown)."""
        while any(c.busy or not c.queue.empty() or c.overflow for c in self._calls.values()):
            self._progress.clear()
            await self._progress.wait()

    def open_call(self, call: IngestCall) -> None:
        """Called by the ingest sink before the call's ``call.started`` is appended."""
        self._pending_keys[call.call_id] = (call.caller_key, call.caller_masked)
        while len(self._pending_keys) > MAX_PENDING_KEYS:
            # A call whose call.started never came (refused while opening): forget the oldest.
            del self._pending_keys[next(iter(self._pending_keys))]

    async def call_done(self, call_id: str) -> None:
        """Wait until the call's worker has ended (its ``call.ended`` handled, the order saved);
        at once for a call this service does not hold (the post-call QA waits on this)."""
        while (call := self._calls.get(call_id)) is not None and call.worker is not None:
            if call.worker.done():
                return
            self._progress.clear()
            await self._progress.wait()

    def order(self, call_id: str) -> FillerState | None:
        call = self._calls.get(call_id) or self._finished.get(call_id)
        return call.state if call is not None else None

    # --- the log listener (on the loop, never blocks) --------------------------------------

    def _on_event(self, event: Event) -> None:
        if not isinstance(event.payload, _RELEVANT):
            return
        call = self._calls.get(event.call_id)
        if call is None:
            if isinstance(event.payload, CallEnded) or event.call_id in self._finished:
                return
            call = self._calls[event.call_id] = _Call(
                event.call_id, asyncio.Queue(self._queue_limit)
            )
            call.worker = asyncio.create_task(self._work(call), name=f"assist {event.call_id}")
        if call.overflow:
            return  # the worker re-reads from the log
        try:
            call.queue.put_nowait(event)
        except asyncio.QueueFull:
            call.overflow = True
            self._metrics.inc("assist_queue_overflows_total")

    # --- per-call worker -------------------------------------------------------------------

    async def _work(self, call: _Call) -> None:
        try:
            while not call.ended:
                event = await call.queue.get()
                call.busy = True
                try:
                    await self._handle(call, event)
                    if call.overflow and call.queue.empty() and not call.ended:
                        # Resume queueing first, then read back what was not queued; anything
                        # in both is skipped by seq.
                        call.overflow = False
                        for missed in await self._log.read(call.call_id, after_seq=call.last_seq):
                            if isinstance(missed.payload, _RELEVANT):
                                await self._handle(call, missed)
                            if call.done():
                                break
                finally:
                    call.busy = False
                    call.queue.task_done()
                    self._progress.set()
        finally:
            if self._calls.get(call.call_id) is call:
                del self._calls[call.call_id]
            if call.ended:
                self._finished[call.call_id] = call
                while len(self._finished) > FINISHED_KEPT:
                    self._finished.popitem(last=False)
            self._progress.set()

    async def _handle(self, call: _Call, event: Event) -> None:
        if event.seq <= call.last_seq:
            return
        call.last_seq = event.seq
        call.t_media = max(call.t_media, event.t_media)
        async with call.lock:
            try:
                payload = event.payload
                if isinstance(payload, CallStarted):
                    await self._started(call, event, payload)
                elif isinstance(payload, TranscriptFinal):
                    await self._final(call, event, payload)
                elif isinstance(payload, CallEnded):
                    call.ended = True
                    await self._save(call)
            except Exception:
                # A bug in one stage must not stop the call's other events.
                self._metrics.inc("assist_errors_total", labels={"event": event.type})
                log.exception("assist: call %s: %s failed", call.call_id, event.type)

    def _ensure_state(self, call: _Call, t_wall: int) -> FillerState:
        if call.state is None:
            call.state = self._filler.start(call.call_id, reference_from_ms(t_wall))
        return call.state

    async def _started(self, call: _Call, event: Event, payload: CallStarted) -> None:
        key, masked = self._pending_keys.pop(call.call_id, ("", payload.caller_masked))
        call.caller_key, call.caller_masked = key, masked or payload.caller_masked
        self._ensure_state(call, event.t_wall)
        history = CallerHistory(0, 0, (), "", "", "", "", 0)
        if self._store is not None:
            found = await self._stored(lambda s: s.caller_history(key, call.call_id))
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
        if self._store is not None:
            row = TranscriptRow(
                call.call_id,
                final.utterance_id,
                final.leg.value,
                final.t_start,
                final.t_end,
                final.text,
            )
            await self._stored(lambda s: s.add_transcript(row))
        loop = asyncio.get_running_loop()
        began = time.monotonic()
        context = conversation_text(state)
        state, fields = await loop.run_in_executor(
            self._compute, self._filler.on_final, state, final
        )
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
            cards = await loop.run_in_executor(
                self._compute, _suggest, knowledge, call.tracker, final, context
            )
            shown = frozenset((c.entry_id, c.version) for c in cards)
            fresh = [c for c in cards if (c.entry_id, c.version) not in call.cards]
            call.cards = shown
            if fresh:
                await self._log.append_many(call.call_id, [(event.t_media, c) for c in fresh])
                self._metrics.inc("assist_kb_suggestions_total", len(fresh))

    async def _check_duplicates(self, call: _Call, t_media: int) -> None:
        state = call.state
        if self._store is None or state is None:
            return
        schema = self._filler.schema
        category_spec = schema.by_kind("category")
        category = state.order.value(category_spec.name) if category_spec else ""
        place = address_key(state.address)
        if not place or not category or (place, category) == call.checked:
            return
        call.checked = (place, category)
        since = self._clock_ms() - int(schema.duplicate_window_days * 86_400_000)
        found = await self._stored(
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
        if self._store is None or state is None:
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
        await self._stored(
            lambda s: s.save_ticket(
                call_id, hotline, fields, caller_key=key, category=category, address_key=place
            )
        )

    async def _stored(self, fn: Callable[[TicketStore], R]) -> R | None:
        """Run a store call on its thread; a storage failure is logged and counted, not raised."""
        store = self._store
        if store is None:
            return None
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._storage, fn, store)
        except Exception:
            self._metrics.inc("assist_storage_errors_total")
            log.exception("assist: storage failed")
            return None

    # --- agent edits -----------------------------------------------------------------------

    async def edit(self, sub: str, request: TicketRequest) -> None:
        """Apply an agent's work-order action (the gateway's field editor); raises EditRefused."""
        call = self._calls.get(request.call_id) or self._finished.get(request.call_id)
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
        if self._store is None:
            raise EditRefused("unavailable", "tickets are not stored in this engine")
        async with call.lock:
            await self._save(call)
            call_id = call.call_id
            record = await self._stored(lambda s: s.set_status(call_id, status, department))
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
