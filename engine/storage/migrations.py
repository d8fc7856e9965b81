"""Versioned schema migrations for the ticket store, one list for both back ends.

Each migration is applied once, in order, inside a transaction that also records its version
in ``schema_migrations``; a store opened on an older database upgrades it, a store opened on a
newer one (a downgrade) refuses to run. Statements are written in the SQL both SQLite and
PostgreSQL accept; where they differ a migration gives one text per dialect.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]

    def statements(self, dialect: str) -> tuple[str, ...]:
        return self.sqlite if dialect == "sqlite" else self.postgres


_V1 = (
    """CREATE TABLE tickets (
        ticket_id   TEXT PRIMARY KEY,
        call_id     TEXT NOT NULL UNIQUE,
        hotline     TEXT NOT NULL,
        caller_key  TEXT NOT NULL DEFAULT '',
        status      TEXT NOT NULL DEFAULT 'open',
        outcome     TEXT NOT NULL DEFAULT '',
        category    TEXT NOT NULL DEFAULT '',
        address_key TEXT NOT NULL DEFAULT '',
        fields      TEXT NOT NULL,
        created_at  BIGINT NOT NULL,
        updated_at  BIGINT NOT NULL
    )""",
    "CREATE INDEX tickets_caller ON tickets (caller_key, created_at)",
    """CREATE TABLE transcripts (
        call_id      TEXT NOT NULL,
        utterance_id TEXT NOT NULL,
        leg          TEXT NOT NULL,
        t_start      BIGINT NOT NULL,
        t_end        BIGINT NOT NULL,
        text         TEXT NOT NULL,
        PRIMARY KEY (call_id, utterance_id)
    )""",
)

_V2 = (
    "ALTER TABLE tickets ADD COLUMN closed_at BIGINT",
    "CREATE INDEX tickets_place ON tickets (address_key, category, status, created_at)",
)

_V3 = (
    """CREATE TABLE call_qa (
        call_id    TEXT PRIMARY KEY,
        rubric     TEXT NOT NULL,
        score      DOUBLE PRECISION NOT NULL,
        passed     INTEGER NOT NULL,
        body       TEXT NOT NULL,
        created_at BIGINT NOT NULL
    )""",
    """CREATE TABLE call_summary (
        call_id    TEXT PRIMARY KEY,
        body       TEXT NOT NULL,
        created_at BIGINT NOT NULL
    )""",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tickets and transcripts", _V1, _V1),
    Migration(2, "ticket close time; index for duplicate detection", _V2, _V2),
    Migration(3, "post-call QA and summary per call", _V3, _V3),
)

LATEST = MIGRATIONS[-1].version
