"""SQLite back end of the ticket store: WAL journal, autocommit outside explicit transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jiesu.engine.storage.base import Connection


def open_sqlite(path: Path, synchronous: str) -> sqlite3.Connection:
    """An autocommit SQLite connection in WAL mode (the folder is created), usable from any thread."""
    if synchronous not in ("FULL", "NORMAL", "EXTRA"):
        raise ValueError(f"synchronous must be FULL, NORMAL or EXTRA, not {synchronous!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute("PRAGMA busy_timeout=5000")
    return db


class SqliteConnection(Connection):
    dialect = "sqlite"

    def __init__(self, path: Path, synchronous: str = "NORMAL") -> None:
        self._db = open_sqlite(path, synchronous)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._db.execute(sql, tuple(params)).fetchall()]

    @contextmanager
    def _outermost(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock now, not at the first write (no upgrade deadlock);
        # the connection as a context manager commits, or rolls back on any exception.
        self._db.execute("BEGIN IMMEDIATE")
        with self._db:
            yield

    def journal_mode(self) -> str:
        return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    def close(self) -> None:
        self._db.close()
