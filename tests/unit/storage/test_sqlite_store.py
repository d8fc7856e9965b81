"""The ticket store on SQLite (WAL): migrations, idempotent tickets, history, duplicates."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import ticket_store_checks as checks

from jiesu.engine.storage import open_store
from jiesu.engine.storage.base import StorageError, TicketStore
from jiesu.engine.storage.migrations import LATEST
from jiesu.engine.storage.sqlite import SqliteConnection


@pytest.fixture
def clock() -> checks.Clock:
    return checks.Clock()


@pytest.fixture
def store(tmp_path: Path, clock: checks.Clock) -> TicketStore:
    return TicketStore(SqliteConnection(tmp_path / "t.sqlite3"), clock_ms=clock)


def test_wal_and_migrated(store: TicketStore, tmp_path: Path) -> None:
    checks.check_migrated(store)
    db = sqlite3.connect(tmp_path / "t.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = [r[0] for r in db.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == list(range(1, LATEST + 1))


class TestTicketStore(checks.TicketStoreContract):
    """The back-end contract on SQLite."""


def test_upgrade_from_version_1_keeps_tickets(tmp_path: Path, clock: checks.Clock) -> None:
    path = tmp_path / "old.sqlite3"
    conn = SqliteConnection(path)
    old = TicketStore.__new__(TicketStore)
    old._db = conn
    old._clock_ms = clock
    assert old.migrate(target=1) == 1
    conn.execute(
        "INSERT INTO tickets (ticket_id, call_id, hotline, fields, created_at, updated_at) "
        "VALUES ('T1', 'old-call', '12345', '{\"summary\": \"旧工单\"}', 1, 1)"
    )
    conn.close()
    store = TicketStore(SqliteConnection(path), clock_ms=clock)
    assert store.schema_version() == LATEST
    record = store.ticket_for_call("old-call")
    assert (
        record is not None and record.fields == {"summary": "旧工单"} and record.closed_at is None
    )


def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    TicketStore(SqliteConnection(path)).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO schema_migrations VALUES (?, 'future', 0)", (LATEST + 1,))
    db.commit()
    db.close()
    with pytest.raises(StorageError, match="newer than this program"):
        TicketStore(SqliteConnection(path))


def test_reopened_store_finds_the_same_ticket(tmp_path: Path) -> None:
    path = tmp_path / "x" / "t.sqlite3"
    first = open_store(sqlite_path=str(path))
    ticket = first.save_ticket("c", "12345", {"a": "1"})
    first.close()
    second = open_store(sqlite_path=str(path))
    assert second.save_ticket("c", "12345", {"a": "2"}).ticket_id == ticket.ticket_id
    assert second.count_tickets() == 1


def test_nested_transaction_joins_the_outer_one(tmp_path: Path) -> None:
    conn = SqliteConnection(tmp_path / "n.sqlite3")
    conn.execute("CREATE TABLE t (x INTEGER)")
    with conn.transaction(), conn.transaction():
        conn.execute("INSERT INTO t VALUES (1)")
    assert conn.execute("SELECT x FROM t") == [(1,)]
    with pytest.raises(RuntimeError), conn.transaction():
        conn.execute("INSERT INTO t VALUES (2)")
        with conn.transaction():
            conn.execute("INSERT INTO t VALUES (3)")
        raise RuntimeError("the outer one fails after the inner one ended")
    assert conn.execute("SELECT x FROM t") == [(1,)]
    conn.close()
