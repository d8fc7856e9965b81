"""Storage of tickets, transcripts and caller history: SQLite (WAL) by default, PostgreSQL by DSN.

:func:`open_store` picks the back end; both speak the same :class:`TicketStore` API (blocking:
the async edge runs it on a worker thread) and the same versioned migrations.
"""

from jiesu.engine.storage.base import (
    CallerHistory,
    TicketRecord,
    TicketStore,
    TranscriptRow,
    open_store,
)
from jiesu.engine.storage.keys import CallerKeyer, address_key

__all__ = [
    "CallerHistory",
    "CallerKeyer",
    "TicketRecord",
    "TicketStore",
    "TranscriptRow",
    "address_key",
    "open_store",
]
