"""A process-wide micro-batcher that many calls share in front of one model.

``submit`` puts ``(item, future)`` on a bounded queue and awaits the future. One consumer task
waits for the first item, gathers more until ``max_batch`` items are waiting or ``max_wait_ms``
has passed, takes finals before partials, skips partials whose deadline has passed, and runs
``model_fn`` on one of ``lanes`` executor threads. With one lane, batches run one after the
other. With more (a model that runs that many calls at once, e.g. CTranslate2's
``inter_threads``), partial batches may use all lanes but one, so a final never waits behind
partials: the lane kept free is there for it.

Queue policy when full: the submit fails at once with :class:`BatcherFull` (counted in
``stats().rejected``) after first evicting any stale partials; the caller decides (a streaming
ASR stage drops that partial and tries again with more audio; a final should be retried or
reported). Nothing waits for space, so a slow model never backs pressure into the audio path.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Req = TypeVar("Req")
Res = TypeVar("Res")


class Priority(enum.IntEnum):
    """How urgent a request is: a lower value is served first."""

    FINAL = 0
    PARTIAL = 1


class BatcherFull(Exception):
    """The batcher's queue is full; the request was not queued."""


class BatcherClosed(Exception):
    """The batcher is closed (or closing without draining); the request was not run."""


class Skipped(Exception):
    """A partial request's deadline passed before it could run, so it was not run."""


@dataclass(frozen=True, slots=True)
class BatcherConfig:
    """Tuning knobs of one :class:`Batcher`."""

    max_batch: int = 8
    max_wait_ms: float = 10.0
    #: Most requests waiting (not counting the batch being run).
    max_queue: int = 256
    #: Whether a batch that holds finals is topped up with partials. Off: a partial may need
    #: another window (another encode) and would lengthen the final's wait, which is the
    #: latency the agent feels; the partial waits for the next batch or goes stale.
    partials_beside_finals: bool = False
    #: Batches run at once (the model must support as many concurrent calls). With more than
    #: one, partial batches leave one lane free for finals.
    lanes: int = 1

    def __post_init__(self) -> None:
        if self.lanes < 1:
            raise ValueError("lanes must be at least 1")
        if self.max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if self.max_wait_ms < 0:
            raise ValueError("max_wait_ms must not be negative")
        if self.max_queue < 1:
            raise ValueError("max_queue must be at least 1")


@dataclass(frozen=True, slots=True)
class BatcherStats:
    """A snapshot of a batcher's counters."""

    submitted: int
    batches: int
    #: ``(batch size, how many batches had it)``, sorted by size.
    sizes: tuple[tuple[int, int], ...]
    skipped: int
    rejected: int
    cancelled: int
    failed_batches: int
    queue_high_water: int
    queued: int


class _Entry(Generic[Req, Res]):
    """One queued request. Mutable on purpose: it is private bookkeeping, never shared data."""

    __slots__ = ("deadline", "future", "item", "priority")

    def __init__(
        self, item: Req, deadline: float, priority: Priority, future: asyncio.Future[Res]
    ) -> None:
        self.item = item
        self.deadline = deadline
        self.priority = priority
        self.future = future


SleepFn = Callable[[float], Awaitable[None]]


class Batcher(Generic[Req, Res]):
    """Gathers requests from many callers into batches for ``model_fn``.

    ``partial_key`` (optional) sorts partials into kinds that batch well together (for Whisper:
    the window bucket); a batch of partials holds one kind only, the others keep their place in
    the queue for the next batch.

    ``clock`` returns seconds (``time.monotonic`` by default) and ``sleep`` waits that many of its
    seconds; tests inject a fake pair so that no test waits on wall time. Deadlines passed to
    :meth:`submit` are absolute times on ``clock``.
    """

    def __init__(
        self,
        model_fn: Callable[[list[Req]], Sequence[Res]],
        config: BatcherConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: SleepFn = asyncio.sleep,
        name: str = "model",
        partial_key: Callable[[Req], Hashable] | None = None,
    ) -> None:
        self._model_fn = model_fn
        self._partial_key = partial_key
        self._config = config or BatcherConfig()
        self._clock = clock
        self._sleep = sleep
        self._name = name
        # Two FIFO queues instead of one priority heap: FIFO within a priority is what callers
        # expect, and removing a cancelled entry from a deque is cheap at these sizes.
        self._queues: dict[Priority, deque[_Entry[Req, Res]]] = {p: deque() for p in Priority}
        #: Set when the consumer may have something to do: a request arrived, a lane came
        #: free, or the batcher is closing.
        self._arrival = asyncio.Event()
        self._consumer: asyncio.Task[None] | None = None
        # One worker thread per lane: the model is called from these threads only.
        self._executor: ThreadPoolExecutor | None = None
        #: Batches running, one per busy decode lane.
        self._running: set[asyncio.Task[None]] = set()
        self._closed = False
        self._drain = True
        self._submitted = 0
        self._batches = 0
        self._sizes: dict[int, int] = {}
        self._skipped = 0
        self._rejected = 0
        self._cancelled = 0
        self._failed_batches = 0
        self._high_water = 0

    # --- callers ---------------------------------------------------------------------------

    async def submit(self, item: Req, *, deadline: float, priority: Priority) -> Res:
        """Queue ``item`` and wait for its result.

        Raises :class:`BatcherFull` at once when the queue is full, :class:`BatcherClosed` when
        closed, :class:`Skipped` for a partial whose deadline passed before it ran, or the
        model's exception when its batch failed. Cancelling the awaiting task withdraws the
        request if it has not started running.
        """
        if self._closed:
            raise BatcherClosed(f"{self._name} batcher is closed")
        if self._queued() >= self._config.max_queue:
            self._evict_stale()
        if self._queued() >= self._config.max_queue:
            self._rejected += 1
            raise BatcherFull(f"{self._name} batcher queue is full ({self._config.max_queue})")
        loop = asyncio.get_running_loop()
        self._ensure_consumer()
        future: asyncio.Future[Res] = loop.create_future()
        entry = _Entry(item, deadline, priority, future)
        self._queues[priority].append(entry)
        self._submitted += 1
        self._high_water = max(self._high_water, self._queued())
        self._arrival.set()
        try:
            return await future
        except asyncio.CancelledError:
            # Free the slot now rather than when the consumer next looks at the lane.
            lane = self._queues[priority]
            if entry in lane:
                lane.remove(entry)
                self._cancelled += 1
            raise

    def waiting(self, priority: Priority) -> int:
        """Requests of ``priority`` queued and not yet taken into a batch."""
        return sum(1 for e in self._queues[priority] if not e.future.done())

    def stats(self) -> BatcherStats:
        """The counters so far."""
        return BatcherStats(
            submitted=self._submitted,
            batches=self._batches,
            sizes=tuple(sorted(self._sizes.items())),
            skipped=self._skipped,
            rejected=self._rejected,
            cancelled=self._cancelled,
            failed_batches=self._failed_batches,
            queue_high_water=self._high_water,
            queued=self._queued(),
        )

    async def close(self, *, drain: bool = True) -> None:
        """Stop taking requests; run what is queued (``drain``) or fail it with BatcherClosed.

        Returns once the consumer has stopped and the executor thread has finished.
        """
        self._closed = True
        self._drain = drain
        if not drain:
            self._fail_queued()
        self._arrival.set()
        if self._consumer is not None:
            try:
                await self._consumer
            finally:
                self._consumer = None
        self._fail_queued()
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    # --- consumer --------------------------------------------------------------------------

    def _queued(self) -> int:
        return sum(len(lane) for lane in self._queues.values())

    def _ensure_consumer(self) -> None:
        if self._consumer is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self._config.lanes, thread_name_prefix=self._name
            )
            self._consumer = asyncio.get_running_loop().create_task(
                self._run(), name=f"batcher-{self._name}"
            )

    def _live(self) -> int:
        """Requests that would go into a batch now (not yet resolved or cancelled)."""
        return sum(1 for lane in self._queues.values() for e in lane if not e.future.done())

    def _evict_stale(self) -> None:
        now = self._clock()
        lane = self._queues[Priority.PARTIAL]
        keep: deque[_Entry[Req, Res]] = deque()
        for entry in lane:
            if entry.future.done():
                continue
            if entry.deadline < now:
                entry.future.set_exception(Skipped("partial deadline passed"))
                self._skipped += 1
            else:
                keep.append(entry)
        self._queues[Priority.PARTIAL] = keep

    def _fail_queued(self) -> None:
        for lane in self._queues.values():
            while lane:
                entry = lane.popleft()
                if not entry.future.done():
                    entry.future.set_exception(BatcherClosed(f"{self._name} batcher closed"))

    async def _run(self) -> None:
        try:
            while True:
                batch = await self._gather()
                if batch is None:
                    break
                if batch:
                    self._start(batch)
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)
        except Exception:  # pragma: no cover - a bug here must not leave callers hanging
            log.exception("batcher %s consumer failed", self._name)
            self._closed = True
            self._fail_queued()

    def _start(self, batch: list[_Entry[Req, Res]]) -> None:
        task = asyncio.get_running_loop().create_task(self._run_batch(batch))
        self._running.add(task)
        task.add_done_callback(self._lane_freed)

    def _lane_freed(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._arrival.set()

    def _partials_may_start(self) -> bool:
        """Whether a partial batch may start now: a lane is free, and with several lanes one
        stays free for finals."""
        return len(self._running) < max(1, self._config.lanes - 1)

    def _startable(self) -> bool:
        """Whether a batch could start now (a free lane and work it may take)."""
        if len(self._running) >= self._config.lanes:
            return False
        finals = self._queues[Priority.FINAL]
        if any(not e.future.done() for e in finals):
            return True
        partials = self._queues[Priority.PARTIAL]
        return self._partials_may_start() and any(not e.future.done() for e in partials)

    async def _gather(self) -> list[_Entry[Req, Res]] | None:
        """Wait for work a free lane may take, then for more until full or ``max_wait_ms``;
        None means stop."""
        while not self._startable():
            if self._closed and self._live() == 0:
                return None
            self._arrival.clear()
            await self._arrival.wait()
        end = self._clock() + self._config.max_wait_ms / 1000.0
        while self._live() < self._config.max_batch and not self._closed:
            remaining = end - self._clock()
            if remaining <= 0:
                break
            self._arrival.clear()
            arrival = asyncio.ensure_future(self._arrival.wait())
            timer = asyncio.ensure_future(self._sleep(remaining))
            _, pending = await asyncio.wait({arrival, timer}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
        return self._take()

    def _take(self) -> list[_Entry[Req, Res]]:
        """Up to ``max_batch`` live entries, finals first; stale partials are resolved Skipped."""
        now = self._clock()
        batch: list[_Entry[Req, Res]] = []
        for priority in sorted(Priority):  # lower value first: finals before partials
            if priority is Priority.PARTIAL and batch and not self._config.partials_beside_finals:
                break
            if priority is Priority.PARTIAL and not batch and not self._partials_may_start():
                break
            lane = self._queues[priority]
            passed: deque[_Entry[Req, Res]] = deque()
            key: Hashable = None
            while lane and len(batch) < self._config.max_batch:
                entry = lane.popleft()
                if entry.future.done():
                    continue
                if priority is Priority.PARTIAL and entry.deadline < now:
                    # Newer audio will have its own partial; running this one only delays it.
                    entry.future.set_exception(Skipped("partial deadline passed"))
                    self._skipped += 1
                    continue
                if priority is Priority.PARTIAL and self._partial_key is not None:
                    # A partial batch of one kind (one window): one encode, a short batch that
                    # a final arriving meanwhile waits little for. Others keep their place.
                    entry_key = self._partial_key(entry.item)
                    if not any(e.priority is Priority.PARTIAL for e in batch):
                        key = entry_key
                    elif entry_key != key:
                        passed.append(entry)
                        continue
                batch.append(entry)
            lane.extendleft(reversed(passed))
        return batch

    async def _run_batch(self, batch: list[_Entry[Req, Res]]) -> None:
        self._batches += 1
        self._sizes[len(batch)] = self._sizes.get(len(batch), 0) + 1
        items = [e.item for e in batch]
        loop = asyncio.get_running_loop()
        assert self._executor is not None
        try:
            results = await loop.run_in_executor(self._executor, self._call_model, items)
        except Exception as exc:
            # Only this batch fails; the consumer goes on with the next one.
            self._failed_batches += 1
            log.warning("batcher %s: batch of %d failed: %r", self._name, len(batch), exc)
            for entry in batch:
                if not entry.future.done():
                    entry.future.set_exception(exc)
            return
        for entry, result in zip(batch, results, strict=True):
            if not entry.future.done():
                entry.future.set_result(result)

    def _call_model(self, items: list[Req]) -> list[Res]:
        results = list(self._model_fn(items))
        if len(results) != len(items):
            raise RuntimeError(
                f"{self._name} model returned {len(results)} results for {len(items)} requests"
            )
        return results
