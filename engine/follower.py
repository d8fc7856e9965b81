"""One follower of the event log for the services that react to a call's events.

:class:`Follower` subscribes to the :class:`~jiesu.engine.eventlog.EventLog` (so a service sees
what the screens see, once durable) and hands each call's events to the service's handler in
``seq`` order, with the call's state (the service's, made by ``new_state``), on one worker task
per call. The listener never blocks: it puts the event on the call's bounded queue. Overflow
policy: when the queue is full, events are not queued; once the worker has drained the queue it
reads what it missed back from the log by ``seq`` (skipping what it handled), so nothing is lost
and memory stays bounded (``{name}_queue_overflows_total``).
Only events the service calls *skippable* (alert partials: a later partial or the final carries
the same words) are left out under pressure: not queued while the queue is half full, not read
back. A call ends once its ``call.ended`` is handled (``wants`` must take it); an end alone
opens no worker, and ended
or evicted calls (beyond ``max_calls``, oldest first: ``{name}_calls_evicted_total``) are
remembered, boundedly (with their last state if ``keep_finished``), so that late events open
none. A handler's exception is logged and counted (``{name}_errors_total``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import CallEnded, Event
from jiesu.engine.metrics import Metrics

log = logging.getLogger(__name__)

S = TypeVar("S")
#: Ended call ids remembered so that their late events open no new worker.
FINISHED_KEPT = 1000


@dataclass(eq=False)
class _Call(Generic[S]):
    call_id: str
    state: S
    queue: asyncio.Queue[Event]
    worker: asyncio.Task[None] | None = None
    #: Highest seq handled: events at or below it (seen twice after an overflow) are skipped.
    last_seq: int = 0
    overflow: bool = False
    #: The worker is handling an event (taken off the queue, not finished).
    busy: bool = False
    #: Its ``call.ended`` is being (or has been) handled: a second one is skipped.
    ending: bool = False
    ended: bool = False


class Follower(Generic[S]):
    """Per-call, in-order delivery of a service's events from the log; see the module doc."""

    def __init__(
        self,
        event_log: EventLog,
        handle: Callable[[S, Event], Awaitable[None]],
        metrics: Metrics,
        *,
        name: str,
        new_state: Callable[[str], S],
        wants: Callable[[Event], bool],
        skippable: Callable[[Event], bool] = lambda _e: False,
        queue_limit: int = 256,
        max_calls: int = 2000,
        finished_kept: int = FINISHED_KEPT,
        keep_finished: bool = False,
    ) -> None:
        self._log = event_log
        self._handle_event = handle
        self._metrics = metrics
        self._name = name
        self._new_state = new_state
        self._wants = wants
        self._skippable = skippable
        self._queue_limit = queue_limit
        self._max_calls = max_calls
        self._finished_kept = finished_kept
        self._keep_finished = keep_finished
        self._calls: OrderedDict[str, _Call[S]] = OrderedDict()
        self._finished: OrderedDict[str, S | None] = OrderedDict()
        self._unsubscribe: Callable[[], None] | None = None
        #: Set whenever a worker finishes an item or ends (what the waits below wait on).
        self._progress = asyncio.Event()

    def start(self) -> None:
        self._unsubscribe = self._log.subscribe(self._on_event)

    async def close(self, drain_s: float = 30.0) -> None:
        """Stop listening, finish what is queued (for at most ``drain_s``), cancel the rest."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        try:
            async with asyncio.timeout(drain_s):
                await self.idle()
        except TimeoutError:
            log.error("%s: %d calls still busy at shutdown; stopped", self._name, len(self._calls))
        workers = [c.worker for c in self._calls.values() if c.worker is not None]
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until every event published so far has been handled."""
        while any(c.busy or not c.queue.empty() or c.overflow for c in self._calls.values()):
            await self._wait_progress()

    async def call_done(self, call_id: str) -> None:
        """Wait until the call's worker has ended; at once for a call not followed."""
        while call_id in self._calls:
            await self._wait_progress()

    def state(self, call_id: str) -> S | None:
        """The state of a call followed, or kept from a finished one."""
        call = self._calls.get(call_id)
        return call.state if call is not None else self._finished.get(call_id)

    def states(self) -> list[tuple[str, S]]:
        """The calls followed now, oldest first, with their states."""
        return [(call_id, call.state) for call_id, call in self._calls.items()]

    def open(self, call_id: str) -> S | None:
        """The state of a call followed, opened now if new; None for a finished call."""
        call = self._call(call_id)
        return call.state if call is not None else None

    async def _wait_progress(self) -> None:
        self._progress.clear()
        await self._progress.wait()

    # --- the log listener (on the loop, never blocks) --------------------------------------

    def _on_event(self, event: Event) -> None:
        if not self._wants(event):
            return
        if isinstance(event.payload, CallEnded) and event.call_id not in self._calls:
            return
        call = self._call(event.call_id)
        if call is None or call.overflow:
            return  # a finished call's late event; or the worker re-reads from the log
        queue = call.queue
        if self._skippable(event) and queue.qsize() * 2 >= queue.maxsize:
            return
        try:
            queue.put_nowait(event)
        except asyncio.QueueFull:
            call.overflow = True
            self._metrics.inc(f"{self._name}_queue_overflows_total")

    def _call(self, call_id: str) -> _Call[S] | None:
        """The call, opened if new (evicting the oldest beyond ``max_calls``); None if ended."""
        if (call := self._calls.get(call_id)) is not None or call_id in self._finished:
            return call
        while len(self._calls) >= self._max_calls:
            evicted, old = self._calls.popitem(last=False)
            if old.worker is not None:
                old.worker.cancel()
            self._remember(evicted, None)
            self._metrics.inc(f"{self._name}_calls_evicted_total")
            log.warning("%s: call %s evicted (no call.ended came)", self._name, evicted)
        call = _Call(call_id, self._new_state(call_id), asyncio.Queue(self._queue_limit))
        self._calls[call_id] = call
        call.worker = asyncio.create_task(self._work(call), name=f"{self._name} {call_id}")
        return call

    def _remember(self, call_id: str, state: S | None) -> None:
        self._finished[call_id] = state
        while len(self._finished) > self._finished_kept:
            self._finished.popitem(last=False)

    # --- per-call worker -------------------------------------------------------------------

    async def _work(self, call: _Call[S]) -> None:
        try:
            while not call.ended:
                event = await call.queue.get()
                call.busy = True
                try:
                    await self._handle(call, event)
                    if call.overflow and call.queue.empty() and not call.ended:
                        await self.catch_up(call.call_id)
                finally:
                    call.busy = False
                    self._progress.set()
        finally:
            if self._calls.get(call.call_id) is call:
                del self._calls[call.call_id]
                if call.ended:
                    self._remember(call.call_id, call.state if self._keep_finished else None)
            self._progress.set()

    async def catch_up(self, call_id: str) -> None:
        """Handle what the log holds past the call's last seq handled (what was not queued, or,
        from within the call's handler, what was committed while it waits); queued copies are
        skipped by seq."""
        if (call := self._calls.get(call_id)) is None:
            return
        call.overflow = False  # queueing resumes first: anything in both is skipped by seq
        for missed in await self._log.read(call.call_id, after_seq=call.last_seq):
            if call.ended:
                break
            if self._wants(missed) and not self._skippable(missed):
                await self._handle(call, missed)

    async def _handle(self, call: _Call[S], event: Event) -> None:
        if event.seq <= call.last_seq:
            return
        call.last_seq = event.seq
        ends = isinstance(event.payload, CallEnded)
        if ends and call.ending:
            return
        call.ending = call.ending or ends
        try:
            await self._handle_event(call.state, event)
        except Exception:
            # A bug in one step must not stop the call's other events.
            self._metrics.inc(f"{self._name}_errors_total", labels={"event": event.type})
            log.exception("%s: call %s: %s failed", self._name, event.call_id, event.type)
        call.ended = call.ended or ends
