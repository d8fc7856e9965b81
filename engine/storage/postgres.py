"""PostgreSQL back end of the ticket store (psycopg 3), chosen by a DSN in the configuration.

The store's SQL uses ``?`` placeholders; they are rewritten to psycopg's ``%s`` here (the
store's statements contain no literal ``?`` or ``%``). Migrations take a transaction-level
advisory lock so that two processes starting together apply each migration once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from jiesu.engine.storage.base import Connection

#: Advisory lock id taken while migrating ("jiesu" in ASCII).
_MIGRATION_LOCK = 0x6A69657375


class PostgresConnection(Connection):
    dialect = "postgres"

    def __init__(self, dsn: str, connect_timeout_s: int = 10) -> None:
        self._db = psycopg.connect(dsn, autocommit=True, connect_timeout=connect_timeout_s)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self._db.execute(sql.replace("?", "%s").encode("utf-8"), tuple(params))
        if cursor.description is None:
            return []
        return [tuple(row) for row in cursor.fetchall()]

    @contextmanager
    def _outermost(self) -> Iterator[None]:
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            yield

    def close(self) -> None:
        self._db.close()
