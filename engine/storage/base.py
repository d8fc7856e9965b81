"""The ticket store: tickets (idempotent per call), transcripts, caller history, duplicates.

One class over two back ends. :class:`TicketStore` writes SQL with ``?`` placeholders; the
connection adapter (:mod:`.sqlite` or :mod:`.postgres`) runs it. Blocking and not thread-safe:
one store per thread (the async edge, :mod:`jiesu.engine.assist.stages`, keeps one on a worker
thread).

Ticket fields are held as a JSON object of field name -> value. They include personal data
(the callback phone, the ID number) because the order needs them; the caller's own number is
stored only as a keyed hash (:class:`~jiesu.engine.storage.keys.CallerKeyer`).
"""

from __future__ import annotations

import hashlib
import json
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from jiesu.engine.events import CallSummary, QaResult
from jiesu.engine.storage.migrations import LATEST, MIGRATIONS
from jiesu.engine.wire import from_plain, to_plain


class StorageError(Exception):
    """The database is unusable (e.g. its schema is newer than this program)."""


class Connection(ABC):
    """A back end: runs one statement, in or out of a transaction.

    A transaction opened inside another joins it (one commit, by the outermost), so that the
    migration runner and the store's methods compose; the back end only says how the outermost
    one begins and ends (:meth:`_outermost`).
    """

    dialect: str
    _in_transaction = False

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def _outermost(self) -> AbstractContextManager[None]: ...

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_transaction:
            yield
            return
        self._in_transaction = True
        try:
            with self._outermost():
                yield
        finally:
            self._in_transaction = False


@dataclass(frozen=True, slots=True)
class TicketRecord:
    ticket_id: str
    call_id: str
    hotline: str
    caller_key: str
    status: str
    outcome: str
    category: str
    address_key: str
    fields: Mapping[str, str]
    created_at: int
    updated_at: int
    closed_at: int | None


@dataclass(frozen=True, slots=True)
class CallerHistory:
    """诉求人画像: what the hotline knows about a caller from their past tickets."""

    count: int
    open_count: int
    #: (level-1 category, number of tickets), most frequent first.
    categories: tuple[tuple[str, int], ...]
    last_ticket_id: str
    last_category: str
    last_status: str
    last_outcome: str
    last_at: int


@dataclass(frozen=True, slots=True)
class TranscriptRow:
    call_id: str
    utterance_id: str
    leg: str
    t_start: int
    t_end: int
    text: str


_COLUMNS = (
    "ticket_id, call_id, hotline, caller_key, status, outcome, category, address_key, fields, "
    "created_at, updated_at, closed_at"
)


def ticket_id_for(call_id: str) -> str:
    """Deterministic ticket id: the same call always maps to the same ticket."""
    return "T" + hashlib.sha256(call_id.encode("utf-8")).hexdigest()[:16].upper()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class TicketStore:
    """Tickets, transcripts and history on one connection (SQLite or PostgreSQL)."""

    def __init__(self, connection: Connection, clock_ms: Callable[[], int] = _now_ms) -> None:
        self._db = connection
        self._clock_ms = clock_ms
        self.migrate()

    @property
    def dialect(self) -> str:
        return self._db.dialect

    def close(self) -> None:
        self._db.close()

    # --- schema ----------------------------------------------------------------------------

    def schema_version(self) -> int:
        # Inside the (locked) transaction: two processes creating the table at once would
        # otherwise collide in PostgreSQL's catalog even with IF NOT EXISTS.
        with self._db.transaction():
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "description TEXT NOT NULL, applied_at BIGINT NOT NULL)"
            )
            rows = self._db.execute("SELECT MAX(version) FROM schema_migrations")
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def migrate(self, target: int = LATEST) -> int:
        """Apply every migration newer than the database, up to ``target``; returns the version."""
        current = self.schema_version()
        if current > LATEST:
            raise StorageError(
                f"database schema version {current} is newer than this program's {LATEST}"
            )
        for migration in MIGRATIONS:
            if current >= migration.version or migration.version > target:
                continue
            with self._db.transaction():
                # Another process may have migrated meanwhile (checked inside the lock).
                if self.schema_version() >= migration.version:
                    continue
                for statement in migration.statements(self._db.dialect):
                    self._db.execute(statement)
                self._db.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    (migration.version, migration.description, self._clock_ms()),
                )
            current = migration.version
        return self.schema_version()

    # --- tickets ---------------------------------------------------------------------------

    def save_ticket(
        self,
        call_id: str,
        hotline: str,
        fields: Mapping[str, str],
        *,
        caller_key: str = "",
        category: str = "",
        address_key: str = "",
    ) -> TicketRecord:
        """Create the call's ticket or update it: one ticket per call, however often called.

        An empty ``caller_key`` never replaces a known one (the key may arrive first, from the
        caller's number at call start, or later, from the callback number).
        """
        now = self._clock_ms()
        body = json.dumps(dict(sorted(fields.items())), ensure_ascii=False)
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO tickets (ticket_id, call_id, hotline, caller_key, status, outcome, "
                "category, address_key, fields, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, 'open', '', ?, ?, ?, ?, ?) "
                "ON CONFLICT (call_id) DO UPDATE SET "
                "caller_key = CASE WHEN excluded.caller_key = '' THEN tickets.caller_key "
                "ELSE excluded.caller_key END, "
                "category = excluded.category, address_key = excluded.address_key, "
                "fields = excluded.fields, updated_at = excluded.updated_at",
                (
                    ticket_id_for(call_id),
                    call_id,
                    hotline,
                    caller_key,
                    category,
                    address_key,
                    body,
                    now,
                    now,
                ),
            )
            record = self.ticket_for_call(call_id)
        assert record is not None
        return record

    def close_ticket(self, call_id: str, status: str = "closed", outcome: str = "") -> bool:
        rows = self._db.execute(
            "UPDATE tickets SET status = ?, outcome = ?, closed_at = ?, updated_at = ? "
            "WHERE call_id = ? RETURNING ticket_id",
            (status, outcome, self._clock_ms(), self._clock_ms(), call_id),
        )
        return bool(rows)

    def set_status(self, call_id: str, status: str, outcome: str = "") -> TicketRecord | None:
        """Record the agent's submit/dispatch on a ticket, which stays open (未办结: counted in
        the caller's history and found as a duplicate) until :meth:`close_ticket`; the ticket
        as it then stands, or None when the call has no ticket."""
        with self._db.transaction():
            rows = self._db.execute(
                "UPDATE tickets SET status = ?, outcome = ?, updated_at = ? "
                "WHERE call_id = ? RETURNING ticket_id",
                (status, outcome, self._clock_ms(), call_id),
            )
            return self.ticket_for_call(call_id) if rows else None

    def ticket_for_call(self, call_id: str) -> TicketRecord | None:
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM tickets WHERE call_id = ?", (call_id,))
        return _record(rows[0]) if rows else None

    def ticket(self, ticket_id: str) -> TicketRecord | None:
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM tickets WHERE ticket_id = ?", (ticket_id,))
        return _record(rows[0]) if rows else None

    def count_tickets(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM tickets")[0][0])

    # --- post-call QA and summary ----------------------------------------------------------

    def save_qa(self, call_id: str, qa: QaResult) -> None:
        """Store the call's QA result; scoring the call again replaces it."""
        body = json.dumps(to_plain(qa), ensure_ascii=False)
        self._db.execute(
            "INSERT INTO call_qa (call_id, rubric, score, passed, body, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (call_id) DO UPDATE SET "
            "rubric = excluded.rubric, score = excluded.score, passed = excluded.passed, "
            "body = excluded.body, created_at = excluded.created_at",
            (call_id, qa.rubric, qa.score, int(qa.passed), body, self._clock_ms()),
        )

    def qa_for_call(self, call_id: str) -> QaResult | None:
        rows = self._db.execute("SELECT body FROM call_qa WHERE call_id = ?", (call_id,))
        return from_plain(QaResult, json.loads(rows[0][0])) if rows else None

    def save_summary(self, call_id: str, summary: CallSummary) -> None:
        """Store the call's summary; summarising the call again replaces it."""
        body = json.dumps(to_plain(summary), ensure_ascii=False)
        self._db.execute(
            "INSERT INTO call_summary (call_id, body, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (call_id) DO UPDATE SET body = excluded.body, "
            "created_at = excluded.created_at",
            (call_id, body, self._clock_ms()),
        )

    def summary_for_call(self, call_id: str) -> CallSummary | None:
        rows = self._db.execute("SELECT body FROM call_summary WHERE call_id = ?", (call_id,))
        return from_plain(CallSummary, json.loads(rows[0][0])) if rows else None

    # --- history and duplicates ------------------------------------------------------------

    def caller_history(self, caller_key: str, exclude_call_id: str = "") -> CallerHistory:
        if not caller_key:
            return CallerHistory(0, 0, (), "", "", "", "", 0)
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM tickets WHERE caller_key = ? AND call_id <> ? "
            "ORDER BY created_at DESC, ticket_id",
            (caller_key, exclude_call_id),
        )
        records = [_record(r) for r in rows]
        if not records:
            return CallerHistory(0, 0, (), "", "", "", "", 0)
        level1 = Counter(r.category.split("/")[0] for r in records if r.category)
        last = records[0]
        return CallerHistory(
            count=len(records),
            open_count=sum(1 for r in records if r.closed_at is None),
            categories=tuple(sorted(level1.items(), key=lambda kv: (-kv[1], kv[0]))),
            last_ticket_id=last.ticket_id,
            last_category=last.category,
            last_status=last.status,
            last_outcome=last.outcome,
            last_at=last.created_at,
        )

    def find_duplicates(
        self, address_key: str, category: str, since_ms: int, exclude_call_id: str = ""
    ) -> list[TicketRecord]:
        """Open (not closed) tickets at the same place and category created since ``since_ms``,
        newest first.

        Categories match on the first two levels (a duplicate is often filed one level apart).
        """
        if not address_key or not category:
            return []
        prefix = "/".join(category.split("/")[:2])
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM tickets WHERE address_key = ? AND closed_at IS NULL "
            "AND created_at >= ? AND call_id <> ? ORDER BY created_at DESC, ticket_id",
            (address_key, since_ms, exclude_call_id),
        )
        records = [_record(r) for r in rows]
        return [r for r in records if "/".join(r.category.split("/")[:2]) == prefix]

    # --- transcripts -----------------------------------------------------------------------

    def add_transcript(self, row: TranscriptRow) -> None:
        """Store a final utterance; storing the same utterance again changes nothing."""
        self._db.execute(
            "INSERT INTO transcripts VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (call_id, utterance_id) DO NOTHING",
            (row.call_id, row.utterance_id, row.leg, row.t_start, row.t_end, row.text),
        )

    def transcript(self, call_id: str) -> list[TranscriptRow]:
        rows = self._db.execute(
            "SELECT call_id, utterance_id, leg, t_start, t_end, text FROM transcripts "
            "WHERE call_id = ? ORDER BY t_start, utterance_id",
            (call_id,),
        )
        return [
            TranscriptRow(str(a), str(b), str(c), int(d), int(e), str(f))
            for a, b, c, d, e, f in rows
        ]


def _record(row: tuple[Any, ...]) -> TicketRecord:
    fields = json.loads(row[8])
    return TicketRecord(
        ticket_id=str(row[0]),
        call_id=str(row[1]),
        hotline=str(row[2]),
        caller_key=str(row[3]),
        status=str(row[4]),
        outcome=str(row[5]),
        category=str(row[6]),
        address_key=str(row[7]),
        fields={str(k): str(v) for k, v in fields.items()},
        created_at=int(row[9]),
        updated_at=int(row[10]),
        closed_at=None if row[11] is None else int(row[11]),
    )


def open_store(dsn: str = "", sqlite_path: str = "var/tickets.sqlite3") -> TicketStore:
    """PostgreSQL when ``dsn`` is set (``postgresql://…`` or ``host=… dbname=…``), else SQLite."""
    if dsn:
        from jiesu.engine.storage.postgres import PostgresConnection

        return TicketStore(PostgresConnection(dsn))
    from pathlib import Path

    from jiesu.engine.storage.sqlite import SqliteConnection

    return TicketStore(SqliteConnection(Path(sqlite_path)))
