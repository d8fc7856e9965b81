"""The two threads a follower service runs its blocking work on, and their shutdown.

Models (the filler, the text emotion model, QA scoring) run on one ``compute`` thread so they
never hold up the event loop; the ticket store runs on its own thread because a SQLite or
psycopg connection belongs to the thread that uses it. Shutting down waits for both off the
loop, so a scoring or storage call still running never stalls the other services' shutdowns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from jiesu.engine.metrics import Metrics
from jiesu.engine.storage.base import TicketStore

log = logging.getLogger(__name__)

R = TypeVar("R")


class ServiceThreads:
    """One compute thread, and one store thread when the service has a store."""

    def __init__(self, name: str, metrics: Metrics, store: TicketStore | None = None) -> None:
        self.name = name
        self.store = store
        self._metrics = metrics
        self._compute = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._storage = ThreadPoolExecutor(1, thread_name_prefix=f"{name}-store")

    async def compute(self, fn: Callable[..., R], *args: Any) -> R:
        """``fn(*args)`` on the compute thread."""
        return await asyncio.get_running_loop().run_in_executor(self._compute, fn, *args)

    async def stored(self, fn: Callable[[TicketStore], R], what: str = "storage") -> R | None:
        """``fn(store)`` on the store's thread; None without a store. A storage failure is
        logged (``what`` failed) and counted (``{name}_storage_errors_total``), not raised."""
        store = self.store
        if store is None:
            return None
        try:
            return await asyncio.get_running_loop().run_in_executor(self._storage, fn, store)
        except Exception:
            self._metrics.inc(f"{self.name}_storage_errors_total")
            log.exception("%s: %s failed", self.name, what)
            return None

    async def close(self) -> None:
        """Let the running calls finish, close the store on its own thread, end both threads."""
        await asyncio.to_thread(self._compute.shutdown, wait=True)
        if self.store is not None:
            await self.stored(lambda s: s.close(), "closing the store")
        await asyncio.to_thread(self._storage.shutdown, wait=True)
