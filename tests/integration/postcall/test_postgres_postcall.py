"""QA results and summaries in the ticket store on a real PostgreSQL server (started by the
test, stopped afterwards; skipped with a message when PostgreSQL is not installed)."""

from __future__ import annotations

from collections.abc import Iterator

import postcall_store_checks as checks
import pytest
from pg_cluster import postgres_cluster

from jiesu.engine.storage.base import TicketStore
from jiesu.engine.storage.postgres import PostgresConnection


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    with postgres_cluster() as dsn:
        yield dsn


def test_round_trip_on_postgres(dsn: str) -> None:
    store = TicketStore(PostgresConnection(dsn))
    try:
        assert store.dialect == "postgres"
        checks.check_qa_and_summary_round_trip(store)
    finally:
        store.close()
