"""Durable, append-only event log: every event gets a gap-free per-call ``seq`` and is committed
to SQLite (WAL) before anyone sees it.

Two layers:

* :class:`EventStore` — synchronous SQLite access, confined to the thread that uses it.
* :class:`EventLog` — the asyncio face. ``seq`` is assigned on the event loop (so order is the
  order of :meth:`EventLog.append` calls); one writer thread commits whatever is pending in one
  transaction (group commit: one fsync for many events), then hands the committed events back to
  the loop, where listeners receive them in commit order. A listener therefore never sees an
  event that is not on disk, and a screen that resumes from the log finds every event it could
  have been sent.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import msgpack

from jiesu.engine.events import (
    CallContext,
    CallEnded,
    CallStarted,
    CallStateChanged,
    Event,
    Payload,
    event_from_plain,
    event_to_plain,
)
from jiesu.engine.storage.sqlite import open_sqlite

log = logging.getLogger(__name__)

R = TypeVar("R")

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    call_id TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    type    TEXT NOT NULL,
    t_media INTEGER NOT NULL,
    t_wall  INTEGER NOT NULL,
    body    BLOB NOT NULL,
    PRIMARY KEY (call_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS calls (
    call_id    TEXT PRIMARY KEY,
    hotline    TEXT NOT NULL,
    agent_id   TEXT NOT NULL,
    mode       TEXT NOT NULL,
    state      TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at   INTEGER
);
CREATE INDEX IF NOT EXISTS calls_live ON calls (hotline, ended_at);
"""


@dataclass(frozen=True, slots=True)
class CallRecord:
    """What the log knows about a call: enough to authorise screens and draw the board."""

    call_id: str
    hotline: str
    agent_id: str
    mode: str
    state: str
    started_at: int
    ended_at: int | None

    @property
    def live(self) -> bool:
        return self.ended_at is None


class EventStore:
    """Synchronous SQLite event store. Not thread-safe: one instance per thread."""

    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        self._db = open_sqlite(path, synchronous)
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def write(self, events: Iterable[Event]) -> None:
        """Commit events (and the call records they imply) in one transaction."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for event in events:
                body = msgpack.packb(event_to_plain(event), use_bin_type=True)
                db.execute(
                    "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
                    (event.call_id, event.seq, event.type, event.t_media, event.t_wall, body),
                )
                self._update_call(event)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _update_call(self, event: Event) -> None:
        payload = event.payload
        if isinstance(payload, CallStarted):
            self._db.execute(
                "INSERT INTO calls VALUES (?, ?, ?, ?, 'ringing', ?, NULL) "
                "ON CONFLICT (call_id) DO NOTHING",
                (
                    event.call_id,
                    payload.hotline,
                    payload.agent_id,
                    payload.mode.value,
                    event.t_wall,
                ),
            )
        elif isinstance(payload, CallContext):
            # Handed over (voice channel): the call is the receiving agent's from now on.
            self._db.execute(
                "UPDATE calls SET agent_id = ? WHERE call_id = ?", (payload.agent_id, event.call_id)
            )
        elif isinstance(payload, CallStateChanged):
            self._db.execute(
                "UPDATE calls SET state = ? WHERE call_id = ?", (payload.state.value, event.call_id)
            )
        elif isinstance(payload, CallEnded):
            self._db.execute(
                "UPDATE calls SET state = 'ended', ended_at = ? WHERE call_id = ?",
                (event.t_wall, event.call_id),
            )

    def last_seq(self, call_id: str) -> int:
        row = self._db.execute(
            "SELECT MAX(seq) FROM events WHERE call_id = ?", (call_id,)
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def read(self, call_id: str, after_seq: int = 0, limit: int | None = None) -> list[Event]:
        rows = self._db.execute(
            "SELECT body FROM events WHERE call_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (call_id, after_seq, -1 if limit is None else limit),
        ).fetchall()
        return [event_from_plain(msgpack.unpackb(row[0], raw=False)) for row in rows]

    def call(self, call_id: str) -> CallRecord | None:
        row = self._db.execute("SELECT * FROM calls WHERE call_id = ?", (call_id,)).fetchone()
        return CallRecord(*row) if row else None

    def live_calls(self, hotline: str | None = None) -> list[CallRecord]:
        sql = "SELECT * FROM calls WHERE ended_at IS NULL"
        args: tuple[str, ...] = ()
        if hotline is not None:
            sql += " AND hotline = ?"
            args = (hotline,)
        return [CallRecord(*row) for row in self._db.execute(sql + " ORDER BY started_at", args)]

    def integrity_check(self) -> str:
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])


Listener = Callable[[Event], None]


@dataclass(slots=True)
class _Pending:
    events: list[Event]
    future: asyncio.Future[None]


class EventLog:
    """Async, group-committing event log with listeners that see only durable events.

    ``max_pending`` bounds the writer's queue: when the disk cannot keep up, :meth:`append`
    waits (back-pressure on the producer) rather than holding unbounded events in memory.
    """

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "FULL",
        max_pending: int = 10_000,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._path = path
        self._synchronous = synchronous
        self._clock_ms = clock_ms
        self._next_seq: dict[str, int] = {}
        #: Calls whose last seq is being read from disk; later appends wait on the future.
        self._seq_loading: dict[str, asyncio.Future[None]] = {}
        self._listeners: list[Listener] = []
        self._queue: queue.Queue[_Pending | None] = queue.Queue(maxsize=max_pending)
        self._writer: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: EventStore | None = None
        self._read_lock = threading.Lock()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = self._loop.create_future()
        self._writer = threading.Thread(
            target=self._write_loop, args=(ready,), name="eventlog-writer", daemon=True
        )
        self._writer.start()
        await ready
        self._reader = EventStore(self._path, self._synchronous)

    async def close(self) -> None:
        """Commit what is pending, then stop the writer."""
        if self._writer is None:
            return
        await asyncio.to_thread(self._queue.put, None)
        await asyncio.to_thread(self._writer.join)
        self._writer = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` on the loop for every committed event; returns unsubscribe.

        Listeners must not block: they copy and enqueue.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def append(self, call_id: str, t_media: int, payload: Payload) -> Event:
        """Stamp, commit and publish one event; returns once it is durable."""
        return (await self.append_many(call_id, [(t_media, payload)]))[0]

    async def append_many(self, call_id: str, items: list[tuple[int, Payload]]) -> list[Event]:
        if self._loop is None or self._writer is None:
            raise RuntimeError("EventLog.start() was not awaited")
        first = await self._reserve_seqs(call_id, len(items))
        now = self._clock_ms()
        events = [
            Event(call_id, first + i, t_media, now, payload)
            for i, (t_media, payload) in enumerate(items)
        ]
        pending = _Pending(events, self._loop.create_future())
        try:
            self._queue.put_nowait(pending)
        except queue.Full:
            await asyncio.to_thread(self._queue.put, pending)
        await pending.future
        return events

    async def _reserve_seqs(self, call_id: str, count: int) -> int:
        """Hand out ``count`` consecutive seqs; the first use of a call reads its last seq once."""
        assert self._loop is not None
        while call_id not in self._next_seq:
            loading = self._seq_loading.get(call_id)
            if loading is not None:
                await asyncio.shield(loading)
                continue
            loading = self._seq_loading[call_id] = self._loop.create_future()
            try:
                last = await self._run_read(lambda s: s.last_seq(call_id))
                self._next_seq[call_id] = last + 1
                loading.set_result(None)
            except BaseException as exc:
                loading.set_exception(exc)
                loading.exception()  # retrieved: waiters re-raise it themselves
                raise
            finally:
                del self._seq_loading[call_id]
        first = self._next_seq[call_id]
        self._next_seq[call_id] = first + count
        return first

    async def read(self, call_id: str, after_seq: int = 0, limit: int | None = None) -> list[Event]:
        return await self._run_read(lambda s: s.read(call_id, after_seq, limit))

    async def call(self, call_id: str) -> CallRecord | None:
        return await self._run_read(lambda s: s.call(call_id))

    async def live_calls(self, hotline: str | None = None) -> list[CallRecord]:
        return await self._run_read(lambda s: s.live_calls(hotline))

    async def _run_read(self, fn: Callable[[EventStore], R]) -> R:
        def run() -> R:
            with self._read_lock:
                if self._reader is None:
                    raise RuntimeError("EventLog is closed")
                return fn(self._reader)

        return await asyncio.to_thread(run)

    # --- writer thread ---------------------------------------------------------------------

    def _write_loop(self, ready: asyncio.Future[None]) -> None:
        loop = self._loop
        assert loop is not None
        try:
            store = EventStore(self._path, self._synchronous)
        except BaseException as exc:
            loop.call_soon_threadsafe(ready.set_exception, exc)
            return
        loop.call_soon_threadsafe(ready.set_result, None)
        stopping = False
        while not stopping:
            batch: list[_Pending] = []
            item = self._queue.get()
            while item is not None:
                batch.append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            stopping = item is None
            if batch:
                self._commit(store, batch, loop)
        store.close()

    def _commit(
        self, store: EventStore, batch: list[_Pending], loop: asyncio.AbstractEventLoop
    ) -> None:
        try:
            store.write(event for pending in batch for event in pending.events)
        except Exception as exc:  # disk full, I/O error: fail these appends, keep running
            log.exception("event log commit failed for %d appends", len(batch))
            loop.call_soon_threadsafe(self._fail, batch, exc)
            return
        loop.call_soon_threadsafe(self._publish, batch)

    def _publish(self, batch: list[_Pending]) -> None:
        for pending in batch:
            for event in pending.events:
                if (
                    isinstance(event.payload, CallEnded)
                    and self._next_seq.get(event.call_id) == event.seq + 1
                ):
                    # Nothing more is reserved for this call: forget its counter (it is re-read
                    # from disk if an event comes later) so memory does not grow with every call.
                    del self._next_seq[event.call_id]
                for listener in list(self._listeners):
                    try:
                        listener(event)
                    except Exception:
                        log.exception("event listener failed on %s", event.type)
            if not pending.future.done():
                pending.future.set_result(None)

    def _fail(self, batch: list[_Pending], exc: Exception) -> None:
        for pending in batch:
            # The seqs handed out for this call may now have a hole: re-read them from disk.
            for event in pending.events:
                self._next_seq.pop(event.call_id, None)
            if not pending.future.done():
                pending.future.set_exception(exc)
