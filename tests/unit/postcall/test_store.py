"""QA results and summaries in the SQLite ticket store (migration 3)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import postcall_store_checks as checks

from jiesu.engine.storage.base import TicketStore
from jiesu.engine.storage.sqlite import SqliteConnection


def test_round_trip(tmp_path: Path) -> None:
    store = TicketStore(SqliteConnection(tmp_path / "t.sqlite3"))
    try:
        checks.check_qa_and_summary_round_trip(store)
    finally:
        store.close()
    db = sqlite3.connect(tmp_path / "t.sqlite3")
    rows = db.execute("SELECT call_id, rubric, passed FROM call_qa ORDER BY call_id").fetchall()
    assert rows == [("c1", "12345-qa-v1", 1), ("c2", "12345-qa-v1", 0)]


def test_upgrade_from_version_2(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = TicketStore.__new__(TicketStore)
    old._db = SqliteConnection(path)
    old._clock_ms = lambda: 1
    assert old.migrate(target=2) == 2
    old.save_ticket("kept", "12345", {"summary": "旧工单"})
    old.close()
    store = TicketStore(SqliteConnection(path))
    try:
        assert store.ticket_for_call("kept") is not None
        checks.check_qa_and_summary_round_trip(store)
    finally:
        store.close()
