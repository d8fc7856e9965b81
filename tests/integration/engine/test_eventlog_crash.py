"""Crash consistency: kill -9 a process while it appends; every acknowledged event survives.

A child process appends events for several calls concurrently through the real EventLog
(SQLite WAL, synchronous=FULL) and prints ``ack CALL SEQ`` once each append has returned. The
parent kills it with SIGKILL at a random point, reopens the database and checks that every
acknowledged event is there, that each call's seqs are gap-free from 1, that the file passes
``PRAGMA integrity_check``, and that a restarted log continues each call without reusing a seq.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from jiesu.engine.eventlog import EventLog, EventStore
from jiesu.engine.events import CallEnded

ROUNDS = 20

CHILD = r"""
import asyncio, sys
from pathlib import Path
from jiesu.engine.audio import Leg
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import TranscriptFinal

async def writer(log, call_id):
    i = 0
    while True:
        event = await log.append(call_id, i * 20, TranscriptFinal(Leg.CALLER, f"u{i}", "测试" * 8, i, i))
        sys.stdout.write(f"ack {event.call_id} {event.seq}\n")
        sys.stdout.flush()
        i += 1

async def main():
    log = EventLog(Path(sys.argv[1]), synchronous="FULL")
    await log.start()
    sys.stdout.write("ready\n"); sys.stdout.flush()
    await asyncio.gather(*(writer(log, f"call-{c}") for c in range(4)))

asyncio.run(main())
"""


def run_and_kill(db: Path, kill_after_acks: int) -> dict[str, int]:
    """Run the child until it has acknowledged ``kill_after_acks`` events, then SIGKILL it."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    acked: dict[str, int] = {}
    try:
        assert child.stdout.readline().strip() == "ready", (
            child.stderr.read() if child.stderr else ""
        )
        count = 0
        while count < kill_after_acks:
            line = child.stdout.readline()
            assert line, f"child exited early: {child.stderr.read() if child.stderr else ''}"
            _, call_id, seq = line.split()
            acked[call_id] = max(acked.get(call_id, 0), int(seq))
            count += 1
        os.kill(child.pid, signal.SIGKILL)
        # Acks already written to the pipe before the kill are acknowledged events too.
        for line in child.stdout:
            if line.startswith("ack "):
                _, call_id, seq = line.split()
                acked[call_id] = max(acked.get(call_id, 0), int(seq))
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return acked


def test_acknowledged_events_survive_kill_9(tmp_path: Path) -> None:
    rng = random.Random(4475)
    db = tmp_path / "events.sqlite3"
    total_acked = 0
    for _ in range(ROUNDS):
        acked = run_and_kill(db, kill_after_acks=rng.randint(20, 400))
        total_acked += sum(acked.values())
        store = EventStore(db)
        try:
            assert store.integrity_check() == "ok"
            for call_id, last_acked in acked.items():
                seqs = [e.seq for e in store.read(call_id)]
                # every acknowledged event is there, and nothing is missing before it
                assert seqs == list(range(1, len(seqs) + 1))
                assert len(seqs) >= last_acked
        finally:
            store.close()
    assert total_acked > 0

    async def continue_after_crash() -> None:
        store = EventStore(db)
        last = {c: store.last_seq(c) for c in ("call-0", "call-1", "call-2", "call-3")}
        store.close()
        log = EventLog(db)
        await log.start()
        for call_id, seq in last.items():
            event = await log.append(call_id, 0, CallEnded("test"))
            assert event.seq == seq + 1
        await log.close()

    asyncio.run(continue_after_crash())
