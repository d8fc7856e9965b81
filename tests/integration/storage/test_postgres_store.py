"""The ticket store on a real PostgreSQL server (started by the test, stopped afterwards):
the same behaviour as SQLite, plus two processes migrating at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest
import ticket_store_checks as checks
from pg_cluster import postgres_cluster

from jiesu.engine.storage import open_store
from jiesu.engine.storage.base import TicketStore
from jiesu.engine.storage.migrations import LATEST
from jiesu.engine.storage.postgres import PostgresConnection


@pytest.fixture(scope="module")
def server_dsn() -> Iterator[str]:
    with postgres_cluster() as dsn:
        yield dsn


@pytest.fixture
def dsn(server_dsn: str, request: pytest.FixtureRequest) -> str:
    """A fresh database per test on the module's server."""
    name = "t_" + request.node.name.lower().replace("[", "_").replace("]", "")[:40]
    with psycopg.connect(server_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"'.encode())
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    return server_dsn.replace("dbname=postgres", f"dbname={name}")


@pytest.fixture
def clock() -> checks.Clock:
    return checks.Clock()


@pytest.fixture
def store(dsn: str, clock: checks.Clock) -> Iterator[TicketStore]:
    store = TicketStore(PostgresConnection(dsn), clock_ms=clock)
    yield store
    store.close()


def test_migrated(store: TicketStore) -> None:
    assert store.dialect == "postgres"
    checks.check_migrated(store)


class TestTicketStore(checks.TicketStoreContract):
    """The back-end contract on PostgreSQL."""


def test_concurrent_start_migrates_once_and_saves_one_ticket_per_call(dsn: str) -> None:
    errors: list[BaseException] = []
    stores: list[TicketStore] = []

    def start() -> None:
        try:
            store = open_store(dsn=dsn)
            stores.append(store)
            store.save_ticket("same-call", "12345", {"summary": "x"})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with psycopg.connect(dsn) as db:
        versions = db.execute(b"SELECT version FROM schema_migrations ORDER BY version").fetchall()
        count = db.execute(b"SELECT COUNT(*) FROM tickets").fetchone()
    assert [v[0] for v in versions] == list(range(1, LATEST + 1))
    assert count is not None and count[0] == 1
    for store in stores:
        store.close()
