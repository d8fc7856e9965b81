"""PostcallService on a real event log and a real SQLite ticket store: a call's events in; after
call.ended the QA and summary are stored, then appended as qa.result and call.summary."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from postcall_calls import GOOD_FIELDS, GOOD_LINES

from jiesu.engine.audio import Leg
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import (
    AlertLevel,
    CallEnded,
    CallMode,
    CallStarted,
    CallSummary,
    EmotionAlert,
    Event,
    FieldOrigin,
    QaResult,
    TicketField,
    TranscriptFinal,
)
from jiesu.engine.metrics import Metrics
from jiesu.engine.postcall.rubric import load_rubric
from jiesu.engine.postcall.service import PostcallService
from jiesu.engine.storage.base import TicketStore
from jiesu.engine.storage.sqlite import SqliteConnection


@dataclass
class Rig:
    log: EventLog
    metrics: Metrics
    path: Path

    def service(self, **kwargs: object) -> PostcallService:
        store = TicketStore(SqliteConnection(self.path))
        return PostcallService(self.log, self.metrics, load_rubric(), store, **kwargs)  # type: ignore[arg-type]

    def store(self) -> TicketStore:
        return TicketStore(SqliteConnection(self.path))


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    log = EventLog(tmp_path / "events.sqlite3")
    await log.start()
    try:
        yield Rig(log, Metrics(), tmp_path / "tickets.sqlite3")
    finally:
        await log.close()


async def play_good_call(log: EventLog, call_id: str, *, end: bool = True) -> Event | None:
    await log.append(
        call_id, 0, CallStarted("12345", "a1", CallMode.ASSIST, (Leg.CALLER, Leg.AGENT))
    )
    for n, line in enumerate(GOOD_LINES):
        final = TranscriptFinal(line.leg, f"{call_id}-u{n}", line.text, line.t_start, line.t_end)
        await log.append(call_id, line.t_end, final)
        if n == 1:
            alert = EmotionAlert(Leg.CALLER, AlertLevel.WARNING, "angry", 0.8, "措辞激烈")
            await log.append(call_id, line.t_end, alert)
    for name, value in GOOD_FIELDS.items():
        await log.append(call_id, 47000, TicketField(name, value, 0.9, FieldOrigin.AUTO, False))
    if not end:
        return None
    return await log.append(call_id, 48000, CallEnded("hangup"))


async def test_a_call_gets_qa_and_summary_stored_then_announced(rig: Rig) -> None:
    service = rig.service(labels={"callback_phone": "回访电话"})
    await service.start()
    try:
        ended = await play_good_call(rig.log, "c1")
        await service.idle()
    finally:
        await service.close()
    assert ended is not None
    events = await rig.log.read("c1")
    tail = [e for e in events if e.seq > ended.seq]
    assert [e.type for e in tail] == ["qa.result", "call.summary"]
    qa, summary = tail[0].payload, tail[1].payload
    assert isinstance(qa, QaResult) and isinstance(summary, CallSummary)
    assert qa.score == 100.0 and qa.passed
    soothe = next(i for i in qa.items if i.item_id == "soothe")
    assert soothe.applicable and soothe.evidence[-1].text == GOOD_LINES[2].text
    assert "吵得根本睡不着" in summary.request
    assert any(f.label == "回访电话" and f.value == "138****5678" for f in summary.fields)
    store = rig.store()
    try:
        assert store.qa_for_call("c1") == qa
        assert store.summary_for_call("c1") == summary
    finally:
        store.close()
    assert rig.metrics.value("postcall_results_total", {"passed": "true"}) == 1


async def test_waits_for_the_work_order_to_settle(rig: Rig) -> None:
    """Fields the assist stage appends after call.ended (its last final) are still scored."""
    settled = asyncio.Event()

    async def settle(call_id: str) -> None:
        await settled.wait()

    service = rig.service(settle=settle, settle_s=30.0)
    await service.start()
    try:
        await play_good_call(rig.log, "c2")
        await rig.log.append(
            "c2", 48000, TicketField("department", "市城管局", 0.9, FieldOrigin.AUTO, False)
        )
        settled.set()
        await service.idle()
    finally:
        await service.close()
    events = await rig.log.read("c2")
    summary = next(e.payload for e in events if isinstance(e.payload, CallSummary))
    assert ("department", "市城管局") in [(f.name, f.value) for f in summary.fields]


async def test_settle_timeout_does_not_hold_the_result(rig: Rig) -> None:
    never: Callable[[str], Awaitable[None]] = lambda _c: asyncio.Event().wait()  # noqa: E731
    service = rig.service(settle=never, settle_s=0.05, late_s=0.05)
    await service.start()
    try:
        await play_good_call(rig.log, "c3")
        await service.idle()
    finally:
        await service.close()
    assert rig.metrics.value("postcall_settle_timeouts_total") == 1
    assert [e.type for e in await rig.log.read("c3")][-2:] == ["qa.result", "call.summary"]


async def test_late_fields_rescore_and_replace_the_stored_result(rig: Rig) -> None:
    """The order finished after settle_s: scored in time, then again with the late field."""
    settled = asyncio.Event()
    first: asyncio.Future[Event] = asyncio.get_running_loop().create_future()

    async def settle(call_id: str) -> None:
        await settled.wait()

    def on_event(event: Event) -> None:
        if isinstance(event.payload, CallSummary) and not first.done():
            first.set_result(event)

    unsubscribe = rig.log.subscribe(on_event)
    service = rig.service(settle=settle, settle_s=0.01, late_s=30.0)
    await service.start()
    try:
        await play_good_call(rig.log, "c6")
        await first
        await rig.log.append(
            "c6", 48000, TicketField("department", "市城管局", 0.9, FieldOrigin.AUTO, False)
        )
        settled.set()
        await service.idle()
    finally:
        unsubscribe()
        await service.close()
    summaries = [e.payload for e in await rig.log.read("c6") if isinstance(e.payload, CallSummary)]
    assert len(summaries) == 2
    departments = [[f.value for f in s.fields if f.name == "department"] for s in summaries]
    assert departments == [["市生态环境局"], ["市城管局"]]
    store = rig.store()
    try:
        assert store.summary_for_call("c6") == summaries[-1]
    finally:
        store.close()
    assert rig.metrics.value("postcall_rescored_total") == 1


async def test_bounds_drop_and_evict_with_counts(rig: Rig) -> None:
    service = rig.service(max_calls=2, max_lines=3)
    await service.start()
    try:
        await play_good_call(rig.log, "old", end=False)
        await play_good_call(rig.log, "mid", end=False)
        await play_good_call(rig.log, "new")  # evicts "old"; keeps 3 of its 11 lines
        await rig.log.append("old", 50000, CallEnded("hangup"))
        await service.idle()
    finally:
        await service.close()
    assert rig.metrics.value("postcall_calls_evicted_total") == 1
    # 8 finals of each recorded call over the bound (old's were dropped before it was evicted).
    assert rig.metrics.value("postcall_dropped_total") == 8 * 3
    assert not any(isinstance(e.payload, QaResult) for e in await rig.log.read("old"))
    qa = next(e.payload for e in await rig.log.read("new") if isinstance(e.payload, QaResult))
    closing = next(i for i in qa.items if i.item_id == "closing")
    assert not closing.passed  # the closing line was beyond the bound: scored on what was kept


async def test_storage_failure_is_counted_and_the_events_still_go_out(rig: Rig) -> None:
    service = rig.service()
    broken = TicketStore(SqliteConnection(rig.path))
    broken.close()  # every call on it fails
    service._threads.store = broken
    await service.start()
    try:
        await play_good_call(rig.log, "c4")
        await service.idle()
    finally:
        service._threads.store = None
        await service.close()
    assert rig.metrics.value("postcall_storage_errors_total") == 1
    assert [e.type for e in await rig.log.read("c4")][-2:] == ["qa.result", "call.summary"]


async def test_a_late_event_after_scoring_opens_no_new_record(rig: Rig) -> None:
    service = rig.service()
    await service.start()
    try:
        await play_good_call(rig.log, "c5")
        await service.idle()
        await rig.log.append("c5", 60000, TranscriptFinal(Leg.AGENT, "late", "再见", 1, 2))
        await rig.log.append("c5", 60000, CallEnded("again"))
        await service.idle()
    finally:
        await service.close()
    types = [e.type for e in await rig.log.read("c5")]
    assert types.count("qa.result") == 1 and types.count("call.summary") == 1
