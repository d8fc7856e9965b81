"""The post-call I/O edge: committed call events in; QA and summary stored and announced.

:class:`PostcallService` follows the event log through a :class:`~jiesu.engine.follower.Follower`
(like the alert and assist services; its queue policy) and records every call
(:class:`~.record.CallRecorder`). On ``call.ended`` the call's worker waits (at most
``settle_s``) for the work-order stage to finish the call, so
the last finals' fields are in; then it scores the call (:func:`~.qa.score_call`) and summarises
it (:func:`~.summary.summarise`) on a worker thread, stores both with the call
(``TicketStore.save_qa`` / ``save_summary``, on the store's own thread) and only then appends
``qa.result`` and ``call.summary`` to the call's events, so a screen that shows them can rely on
them being stored. When the work order was not finished within ``settle_s`` (the stage still
filling the last finals), the call is scored with what it has (the 3 s target) and scored again
once the order is finished (at most ``late_s`` later) if that changed the record: the stored
result is replaced and a second pair of events is appended (screens show the latest). Events
committed while it waits (the last fields) are read back from the log before each scoring.

Bounds: at most ``max_calls`` calls are recorded at once (a new call past it evicts the oldest,
whose ``call.ended`` never came: ``postcall_calls_evicted_total``); at most ``max_lines`` finals
and ``max_marks`` tips/alerts per call (``postcall_dropped_total``; the result's item reasons
are computed from what was kept).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import (
    CallEnded,
    CallStarted,
    CallSummary,
    CoachingTip,
    EmotionAlert,
    Event,
    QaResult,
    RiskAlert,
    TicketField,
    TranscriptFinal,
)
from jiesu.engine.follower import Follower
from jiesu.engine.metrics import Metrics
from jiesu.engine.postcall.qa import score_call
from jiesu.engine.postcall.record import CallRecord, CallRecorder
from jiesu.engine.postcall.rubric import Rubric
from jiesu.engine.postcall.summary import SummarySettings, summarise
from jiesu.engine.service_threads import ServiceThreads
from jiesu.engine.storage.base import TicketStore

log = logging.getLogger(__name__)

_RECORDED = (CallStarted, TranscriptFinal, TicketField, CoachingTip, EmotionAlert, RiskAlert)
_FOLLOWED = (*_RECORDED, CallEnded)


class PostcallService:
    """QA and summary for every call, after hang-up."""

    def __init__(
        self,
        event_log: EventLog,
        metrics: Metrics,
        rubric: Rubric,
        store: TicketStore | None,
        *,
        labels: Mapping[str, str] | None = None,
        summary: SummarySettings | None = None,
        settle: Callable[[str], Awaitable[None]] | None = None,
        settle_s: float = 2.0,
        late_s: float = 120.0,
        max_calls: int = 2000,
        max_lines: int = 400,
        max_marks: int = 200,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._log = event_log
        self._metrics = metrics
        self._rubric = rubric
        self._labels = dict(labels or {})
        self._summary = summary or SummarySettings()
        self._settle = settle
        self._settle_s = settle_s
        self._late_s = late_s
        self._clock_ms = clock_ms
        self._follower = Follower(
            event_log,
            self._on_event,
            metrics,
            name="postcall",
            new_state=lambda c: CallRecorder(c, max_lines=max_lines, max_marks=max_marks),
            wants=lambda e: isinstance(e.payload, _FOLLOWED),
            max_calls=max_calls,
        )
        self._threads = ServiceThreads("postcall", metrics, store)
        self._closed = False

    async def start(self) -> None:
        self._follower.start()

    async def idle(self) -> None:
        """Wait until every ended call seen so far has its QA and summary (tests, shutdown)."""
        await self._follower.idle()

    async def close(self, drain_s: float = 30.0) -> None:
        """Stop listening, finish the calls already ended (for at most ``drain_s``; the rest
        are cancelled, logged), release the threads and the store."""
        if self._closed:
            return
        self._closed = True
        await self._follower.close(drain_s)
        await self._threads.close()

    # --- the call's worker -------------------------------------------------------------------

    async def _on_event(self, recorder: CallRecorder, event: Event) -> None:
        if isinstance(event.payload, CallEnded):
            await self._finish(recorder, event)
            return
        before = recorder.dropped
        recorder.add(event)
        if recorder.dropped > before:
            self._metrics.inc("postcall_dropped_total")

    async def _finish(self, recorder: CallRecorder, ended: Event) -> None:
        """On the call's worker (a failure is logged and counted by the follower,
        ``postcall_errors_total{event}``)."""
        call_id = ended.call_id
        settled = await self._settled(call_id, self._settle_s)
        await self._follower.catch_up(call_id)
        record = await self._publish(call_id, ended, recorder.finish(ended.t_media))
        if not settled:
            # Scored in time with the fields in so far; once the order is complete, the
            # result is replaced if it changed (a second qa.result / call.summary).
            self._metrics.inc("postcall_settle_timeouts_total")
            await self._settled(call_id, self._late_s)
            await self._follower.catch_up(call_id)
            final = recorder.finish(ended.t_media)
            if final != record:
                self._metrics.inc("postcall_rescored_total")
                await self._publish(call_id, ended, final)

    async def _settled(self, call_id: str, timeout_s: float) -> bool:
        """Wait for the work-order stage to finish the call; False after ``timeout_s``."""
        if self._settle is None:
            return True
        try:
            async with asyncio.timeout(timeout_s):
                await self._settle(call_id)
        except TimeoutError:
            return False
        return True

    async def _publish(self, call_id: str, ended: Event, record: CallRecord) -> CallRecord:
        """Score, summarise, store, then append; returns the record that was scored."""
        qa, summary = await self._threads.compute(self._compute_both, record)
        stored = await self._stored(call_id, qa, summary)
        await self._log.append_many(call_id, [(ended.t_media, qa), (ended.t_media, summary)])
        latency = (self._clock_ms() - ended.t_wall) / 1000
        self._metrics.inc("postcall_results_total", labels={"passed": str(qa.passed).lower()})
        self._metrics.inc("postcall_seconds_total", latency)
        log.info(
            "call %s: QA %.1f (%s), summary %s, %.2f s after hang-up%s",
            call_id,
            qa.score,
            "passed" if qa.passed else "failed",
            "stored" if stored else "NOT stored",
            latency,
            f", {record.dropped} items over the bounds" if record.dropped else "",
        )
        return record

    def _compute_both(self, record: CallRecord) -> tuple[QaResult, CallSummary]:
        qa = score_call(record, self._rubric, self._labels)
        return qa, summarise(record, self._labels, self._summary)

    async def _stored(self, call_id: str, qa: QaResult, summary: CallSummary) -> bool:
        def save(s: TicketStore) -> bool:
            s.save_qa(call_id, qa)
            s.save_summary(call_id, summary)
            return True

        what = f"call {call_id}: storing QA and summary"
        return await self._threads.stored(save, what) or False
