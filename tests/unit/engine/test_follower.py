"""The event follower on a real event log: per-call order, overflow caught up from the log with
no loss, skippable events under pressure, errors, drain on close, bounded bookkeeping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jiesu.engine.audio import Leg
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import (
    CallEnded,
    CallMode,
    CallStarted,
    Event,
    Payload,
    TranscriptFinal,
    TranscriptPartial,
)
from jiesu.engine.follower import Follower
from jiesu.engine.metrics import Metrics

STARTED = CallStarted("12345", "a1", CallMode.ASSIST, (Leg.CALLER, Leg.AGENT))


def final(i: int) -> TranscriptFinal:
    return TranscriptFinal(Leg.CALLER, f"u{i}", f"第{i}句", i, i + 1)


def partial(i: int) -> TranscriptPartial:
    return TranscriptPartial(Leg.CALLER, f"u{i}", f"第{i}", i, i + 1, 0)


@dataclass
class Recorder:
    """The service side: records what it is handed; ``gate`` (when set) holds it up."""

    seen: list[Event] = field(default_factory=list)
    gate: asyncio.Event | None = None
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    fail_on: str = ""
    also: Callable[[Event], Awaitable[None]] | None = None

    async def __call__(self, state: list[int], event: Event) -> None:
        state.append(event.seq)
        self.seen.append(event)
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.also is not None:
            await self.also(event)
        if isinstance(event.payload, TranscriptFinal) and event.payload.text == self.fail_on:
            raise ValueError("a bug in one step")

    def seqs(self, call_id: str) -> list[int]:
        return [e.seq for e in self.seen if e.call_id == call_id]


@pytest.fixture
async def log(tmp_path: Path) -> AsyncIterator[EventLog]:
    event_log = EventLog(tmp_path / "events.sqlite3")
    await event_log.start()
    try:
        yield event_log
    finally:
        await event_log.close()


def follower(
    log: EventLog, handler: Recorder, metrics: Metrics, **kwargs: object
) -> Follower[list[int]]:
    """A follower whose per-call state is the list of seqs handed over."""
    f: Follower[list[int]] = Follower(
        log,
        handler,
        metrics,
        name="test",
        new_state=lambda _c: [],
        wants=lambda e: True,
        **kwargs,  # type: ignore[arg-type]
    )
    f.start()
    return f


async def play(log: EventLog, call_id: str, payloads: list[Payload]) -> list[Event]:
    return await log.append_many(call_id, [(i, p) for i, p in enumerate(payloads)])


async def test_each_call_in_seq_order_and_late_events_open_nothing(log: EventLog) -> None:
    metrics, handler = Metrics(), Recorder()
    f = follower(log, handler, metrics)
    for i in range(5):
        await log.append("a", i, final(i) if i else STARTED)
        await log.append("b", i, final(i) if i else STARTED)
    await log.append("a", 9, CallEnded("hangup"))
    await log.append("a", 10, final(10))  # after call.ended: not handed over
    await log.append("c", 0, CallEnded("hangup"))  # an end alone opens no call
    await f.idle()
    await f.call_done("a")
    assert handler.seqs("a") == [1, 2, 3, 4, 5, 6]
    assert handler.seqs("b") == [1, 2, 3, 4, 5]
    assert handler.seqs("c") == []
    await f.close()


async def test_overflow_is_caught_up_from_the_log_without_loss(log: EventLog) -> None:
    metrics, handler = Metrics(), Recorder(gate=asyncio.Event())
    f = follower(log, handler, metrics, queue_limit=4)
    await log.append("a", 0, STARTED)
    await handler.entered.wait()  # the worker holds seq 1; the rest pile up behind it
    await play(log, "a", [final(i) for i in range(1, 41)])
    assert metrics.value("test_queue_overflows_total") == 1
    handler.gate.set()  # type: ignore[union-attr]
    await f.idle()
    assert handler.seqs("a") == list(range(1, 42)), "every event exactly once, in order"
    await f.close()


async def test_skippable_events_are_left_out_only_under_pressure(log: EventLog) -> None:
    metrics, handler = Metrics(), Recorder(gate=asyncio.Event())
    f = follower(
        log,
        handler,
        metrics,
        queue_limit=4,
        skippable=lambda e: isinstance(e.payload, TranscriptPartial),
    )
    await log.append("a", 0, STARTED)
    await handler.entered.wait()
    # Queue of 4: a final and a partial fill it half; then partials are skipped while finals
    # still queue; the next final overflows it and the worker catches up from the log, where
    # partials are skipped too.
    payloads: list[Payload] = [final(1), partial(2), final(3), partial(4), final(5)]
    payloads += [final(6), final(7), partial(8), final(9)]
    events = await play(log, "a", payloads)
    handler.gate.set()  # type: ignore[union-attr]
    await f.idle()
    got = [e for e in handler.seen if e.seq > 1]
    assert [e.payload for e in got if isinstance(e.payload, TranscriptFinal)] == [
        p for p in payloads if isinstance(p, TranscriptFinal)
    ]
    assert [e.payload for e in got if isinstance(e.payload, TranscriptPartial)] == [partial(2)]
    assert [e.seq for e in got] == sorted(e.seq for e in got)
    assert len(events) == len(payloads)
    await f.close()


async def test_without_pressure_skippable_events_are_handed_over(log: EventLog) -> None:
    metrics, handler = Metrics(), Recorder()
    f = follower(log, handler, metrics, skippable=lambda e: True)
    for i in range(10):
        await log.append("a", i, partial(i))
    await f.idle()
    assert handler.seqs("a") == list(range(1, 11))
    await f.close()


async def test_a_failing_step_is_counted_and_the_call_goes_on(log: EventLog) -> None:
    metrics, handler = Metrics(), Recorder(fail_on=final(2).text)
    f = follower(log, handler, metrics)
    await play(log, "a", [STARTED, final(1), final(2), final(3)])
    await f.idle()
    assert handler.seqs("a") == [1, 2, 3, 4]
    assert metrics.value("test_errors_total", {"event": "transcript.final"}) == 1
    await f.close()


async def test_close_drains_what_is_queued(log: EventLog) -> None:
    metrics, handler = Metrics(), Recorder(gate=asyncio.Event())
    f = follower(log, handler, metrics)
    await log.append("a", 0, STARTED)
    await handler.entered.wait()
    await play(log, "a", [final(i) for i in range(1, 6)])
    closing = asyncio.create_task(f.close(drain_s=30))
    await log.append("a", 9, final(9))  # after close began: not followed any more
    handler.gate.set()  # type: ignore[union-attr]
    await closing
    assert handler.seqs("a") == [1, 2, 3, 4, 5, 6]


async def test_close_stops_a_stuck_call_after_drain_s(log: EventLog) -> None:
    metrics, handler = Metrics(), Recorder(gate=asyncio.Event())  # never opened
    f = follower(log, handler, metrics)
    await play(log, "a", [STARTED, final(1)])
    await handler.entered.wait()
    await f.close(drain_s=0.01)
    assert handler.seqs("a") == [1]
    await f.call_done("a")  # the worker is gone


async def test_catch_up_from_the_handler_sees_what_was_committed_meanwhile(
    log: EventLog,
) -> None:
    metrics = Metrics()
    later: list[int] = []

    async def at_end(event: Event) -> None:
        if isinstance(event.payload, CallEnded):
            await log.append("a", 20, final(20))  # as a stage appends after the hang-up
            await f.catch_up("a")
            later.extend(handler.seqs("a"))

    handler = Recorder(also=at_end)
    f = follower(log, handler, metrics)
    await play(log, "a", [STARTED, final(1), CallEnded("hangup"), CallEnded("again")])
    await f.idle()
    await f.call_done("a")
    # The second call.ended is skipped: a call ends once.
    assert later == [1, 2, 3, 5]
    await f.close()


async def test_bookkeeping_is_bounded(log: EventLog) -> None:
    metrics, handler = Metrics(), Recorder()
    f = follower(log, handler, metrics, max_calls=2, finished_kept=3)
    await log.append("old", 0, STARTED)
    await log.append("mid", 0, STARTED)
    await log.append("new", 0, STARTED)  # evicts "old": its call.ended never came
    await log.append("old", 1, final(1))  # an evicted call is not reopened
    assert metrics.value("test_calls_evicted_total") == 1
    assert f.open("old") is None and f.state("old") is None
    for i in range(6):
        await play(log, f"done{i}", [STARTED, CallEnded("hangup")])
    await f.idle()
    assert len(f._finished) == 3 and len(f._calls) <= 2
    assert handler.seqs("old") == [1]
    await f.close()


async def test_state_is_the_services_and_kept_after_the_end_if_asked(log: EventLog) -> None:
    metrics, handler = Metrics(), Recorder()
    f = follower(log, handler, metrics, keep_finished=True)
    assert f.open("a") == []  # opened before its first event (as the router's audio does)
    await play(log, "a", [STARTED, final(1)])
    await f.idle()
    assert f.states() == [("a", [1, 2])]
    await log.append("a", 2, CallEnded("hangup"))
    await f.call_done("a")
    assert f.state("a") == [1, 2, 3] and f.states() == []
    assert f.open("a") is None, "a finished call is not reopened"
    await f.close()
