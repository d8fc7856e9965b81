"""The durable event log: gap-free seq per call, durable before listeners see, call records."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from jiesu.engine.audio import Leg
from jiesu.engine.eventlog import EventLog, EventStore
from jiesu.engine.events import (
    CallEnded,
    CallMode,
    CallStarted,
    CallState,
    CallStateChanged,
    Event,
    TranscriptFinal,
)


def started(agent: str = "a1", hotline: str = "12345") -> CallStarted:
    return CallStarted(hotline, agent, CallMode.ASSIST, (Leg.CALLER, Leg.AGENT))


def final(i: int) -> TranscriptFinal:
    return TranscriptFinal(Leg.CALLER, f"u{i}", f"第{i}句", i * 1000, i * 1000 + 900)


async def test_seq_is_gap_free_per_call_under_concurrent_appends(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "e.sqlite3")
    await log.start()
    try:
        await asyncio.gather(
            *(log.append(f"call-{i % 3}", i, final(i)) for i in range(300)),
        )
        for c in range(3):
            events = await log.read(f"call-{c}")
            assert [e.seq for e in events] == list(range(1, 101))
            # seq order is append order: the texts follow the order the appends were made in
            assert [e.payload for e in events] == [final(i) for i in range(c, 300, 3)]
    finally:
        await log.close()


async def test_listeners_only_see_committed_events_in_order(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite3"
    log = EventLog(path)
    await log.start()
    seen: list[Event] = []
    on_disk_when_seen: list[bool] = []
    probe = EventStore(path)

    def listener(event: Event) -> None:
        seen.append(event)
        on_disk_when_seen.append(probe.last_seq(event.call_id) >= event.seq)

    unsubscribe = log.subscribe(listener)
    await asyncio.gather(*(log.append("c", i, final(i)) for i in range(50)))
    unsubscribe()
    await log.append("c", 99, final(99))
    await log.close()
    probe.close()
    assert [e.seq for e in seen] == list(range(1, 51))
    assert all(on_disk_when_seen)


async def test_seq_continues_after_restart_and_resume_reads_the_tail(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite3"
    log = EventLog(path)
    await log.start()
    for i in range(5):
        await log.append("c", i, final(i))
    await log.close()

    log = EventLog(path)
    await log.start()
    event = await log.append("c", 5, final(5))
    assert event.seq == 6
    tail = await log.read("c", after_seq=3)
    assert [e.seq for e in tail] == [4, 5, 6]
    assert [e.seq for e in await log.read("c", after_seq=1, limit=2)] == [2, 3]
    await log.close()


async def test_call_records_follow_the_call_life_cycle(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "e.sqlite3")
    await log.start()
    await log.append("c1", 0, started("a1"))
    await log.append("c2", 0, started("a2"))
    await log.append("c3", 0, started("a3", hotline="other"))
    await log.append("c1", 10, CallStateChanged(CallState.TALKING))
    await log.append("c2", 20, CallEnded("caller_hangup"))
    live = await log.live_calls("12345")
    assert [(c.call_id, c.agent_id, c.state) for c in live] == [("c1", "a1", "talking")]
    ended = await log.call("c2")
    assert ended is not None and ended.ended_at is not None and not ended.live
    assert {c.call_id for c in await log.live_calls()} == {"c1", "c3"}
    assert await log.call("nope") is None
    await log.close()


async def test_append_before_start_is_an_error(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "e.sqlite3")
    with pytest.raises(RuntimeError, match="start"):
        await log.append("c", 0, final(0))


async def test_a_failing_listener_does_not_stop_delivery(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "e.sqlite3")
    await log.start()
    got: list[int] = []

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    log.subscribe(broken)
    log.subscribe(lambda e: got.append(e.seq))
    await log.append("c", 0, final(0))
    await log.append("c", 1, final(1))
    await log.close()
    assert got == [1, 2]


def test_wal_mode_and_integrity(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "e.sqlite3")
    mode = store._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert store.integrity_check() == "ok"
    store.close()
