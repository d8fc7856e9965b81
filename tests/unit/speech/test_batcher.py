"""Batcher behaviour with a fake model and a fake clock: no test waits on wall time."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from jiesu.engine.speech.batcher import (
    Batcher,
    BatcherClosed,
    BatcherConfig,
    BatcherFull,
    Priority,
    Skipped,
)

FAR = 1e9


class FakeClock:
    """A clock that moves only when the test says so; ``sleep`` waits for ``advance``."""

    def __init__(self) -> None:
        self.now = 0.0
        self._waiters: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self.now + seconds, fut))
        await fut

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [(t, f) for t, f in self._waiters if t <= self.now]
        self._waiters = [(t, f) for t, f in self._waiters if t > self.now]
        for _, fut in due:
            if not fut.done():
                fut.set_result(None)


class FakeModel:
    """Doubles its inputs; records every batch; can be held closed to pile up requests."""

    def __init__(self, *, fail_on: int | None = None) -> None:
        self.calls: list[list[int]] = []
        self.threads: set[str] = set()
        self.gate = threading.Event()
        self.gate.set()
        self.fail_on = fail_on
        self.loop = asyncio.get_running_loop()
        self.started = asyncio.Event()

    def __call__(self, items: list[int]) -> Sequence[int]:
        self.threads.add(threading.current_thread().name)
        self.calls.append(list(items))
        self.loop.call_soon_threadsafe(self.started.set)
        self.gate.wait(timeout=30)
        if self.fail_on is not None and self.fail_on in items:
            raise RuntimeError("model blew up")
        return [2 * i for i in items]


async def settle() -> None:
    """Let every ready task run (yields to the loop; no wall-clock wait)."""
    for _ in range(30):
        await asyncio.sleep(0)


def make(model: FakeModel, clock: FakeClock, **kw: float) -> Batcher[int, int]:
    cfg = BatcherConfig(**kw)  # type: ignore[arg-type]
    return Batcher(model, cfg, clock=clock, sleep=clock.sleep, name="fake")


async def test_single_request_waits_max_wait_then_runs() -> None:
    clock, model = FakeClock(), FakeModel()
    b = make(model, clock, max_batch=4, max_wait_ms=50)
    task = asyncio.create_task(b.submit(3, deadline=FAR, priority=Priority.PARTIAL))
    await settle()
    assert b.stats().batches == 0  # still gathering
    clock.advance(0.049)
    await settle()
    assert b.stats().batches == 0
    clock.advance(0.002)
    assert await task == 6
    assert model.calls == [[3]]
    await b.close()


async def test_full_batch_runs_without_waiting() -> None:
    clock, model = FakeClock(), FakeModel()
    b = make(model, clock, max_batch=3, max_wait_ms=1000)
    tasks = [
        asyncio.create_task(b.submit(i, deadline=FAR, priority=Priority.PARTIAL)) for i in range(3)
    ]
    assert await asyncio.gather(*tasks) == [0, 2, 4]
    assert model.calls == [[0, 1, 2]]
    assert clock.now == 0.0
    await b.close()


async def test_max_batch_splits_and_finals_go_first() -> None:
    clock, model = FakeClock(), FakeModel()
    b = make(model, clock, max_batch=2, max_wait_ms=10)
    model.gate.clear()
    first = asyncio.create_task(b.submit(100, deadline=FAR, priority=Priority.PARTIAL))
    await settle()
    clock.advance(0.01)
    await model.started.wait()  # batch [100] is running and held
    p1 = asyncio.create_task(b.submit(1, deadline=FAR, priority=Priority.PARTIAL))
    p2 = asyncio.create_task(b.submit(2, deadline=FAR, priority=Priority.PARTIAL))
    f1 = asyncio.create_task(b.submit(11, deadline=FAR, priority=Priority.FINAL))
    f2 = asyncio.create_task(b.submit(12, deadline=FAR, priority=Priority.FINAL))
    await settle()
    model.gate.set()
    assert await first == 200
    assert await f1 == 22 and await f2 == 24
    assert await p1 == 2 and await p2 == 4
    assert model.calls == [[100], [11, 12], [1, 2]]
    assert b.stats().sizes == ((1, 1), (2, 2))
    await b.close()


async def test_stale_partial_is_skipped_but_final_runs() -> None:
    clock, model = FakeClock(), FakeModel()
    b = make(model, clock, max_batch=4, max_wait_ms=20, partials_beside_finals=True)
    stale = asyncio.create_task(b.submit(1, deadline=0.005, priority=Priority.PARTIAL))
    fresh = asyncio.create_task(b.submit(2, deadline=1.0, priority=Priority.PARTIAL))
    late_final = asyncio.create_task(b.submit(3, deadline=0.005, priority=Priority.FINAL))
    await settle()
    clock.advance(0.02)
    with pytest.raises(Skipped):
        await stale
    assert await fresh == 4
    assert await late_final == 6
    assert model.calls == [[3, 2]]
    assert b.stats().skipped == 1
    await b.close()


async def test_finals_run_alone_and_partials_follow_by_default() -> None:
    clock, model = FakeClock(), FakeModel()
    b = make(model, clock, max_batch=4, max_wait_ms=0)
    model.gate.clear()
    first = asyncio.create_task(b.submit(100, deadline=FAR, priority=Priority.PARTIAL))
    await model.started.wait()  # batch [100] is running and held
    partial = asyncio.create_task(b.submit(1, deadline=FAR, priority=Priority.PARTIAL))
    final = asyncio.create_task(b.submit(2, deadline=FAR, priority=Priority.FINAL))
    await settle()
    assert b.waiting(Priority.FINAL) == 1 and b.waiting(Priority.PARTIAL) == 1
    model.gate.set()
    assert await first == 200 and await final == 4 and await partial == 2
    assert model.calls == [[100], [2], [1]]
    assert b.waiting(Priority.FINAL) == 0 and b.waiting(Priority.PARTIAL) == 0
    await b.close()


async def test_partials_of_one_kind_batch_together_and_others_keep_their_place() -> None:
    clock, model = FakeClock(), FakeModel()
    cfg = BatcherConfig(max_batch=8, max_wait_ms=0)
    b: Batcher[int, int] = Batcher(
        model, cfg, clock=clock, sleep=clock.sleep, name="fake", partial_key=lambda i: i % 2
    )
    model.gate.clear()
    first = asyncio.create_task(b.submit(100, deadline=FAR, priority=Priority.FINAL))
    await model.started.wait()  # batch [100] is running and held
    tasks = [
        asyncio.create_task(b.submit(i, deadline=FAR, priority=Priority.PARTIAL))
        for i in (1, 2, 3, 4, 5)
    ]
    await settle()
    model.gate.set()
    assert await first == 200
    assert await asyncio.gather(*tasks) == [2, 4, 6, 8, 10]
    assert model.calls == [[100], [1, 3, 5], [2, 4]]
    await b.close()


async def test_bounded_queue_rejects_immediately_and_counts() -> None:
    clock, model = FakeClock(), FakeModel()
    b = make(model, clock, max_batch=8, max_wait_ms=10, max_queue=2, partials_beside_finals=True)
    t1 = asyncio.create_task(b.submit(1, deadline=FAR, priority=Priority.PARTIAL))
    t2 = asyncio.create_task(b.submit(2, deadline=FAR, priority=Priority.FINAL))
    await settle()
    with pytest.raises(BatcherFull):
        await b.submit(3, deadline=FAR, priority=Priority.FINAL)
    stats = b.stats()
    assert stats.rejected == 1 and stats.queue_high_water == 2 and stats.queued == 2
    clock.advance(0.01)
    assert await t1 == 2 and await t2 == 4
    await b.close()


async def test_full_queue_evicts_stale_partials_before_rejecting() -> None:
    clock, model = FakeClock(), FakeModel()
    b = make(model, clock, max_batch=8, max_wait_ms=10, max_queue=1)
    stale = asyncio.create_task(b.submit(1, deadline=0.001, priority=Priority.PARTIAL))
    await settle()
    clock.now = 0.002  # past the deadline, before the gather window ends
    fresh = asyncio.create_task(b.submit(2, deadline=FAR, priority=Priority.FINAL))
    await settle()
    with pytest.raises(Skipped):
        await stale
    clock.advance(0.01)
    assert await fresh == 4
    assert b.stats().rejected == 0
    await b.close()


async def test_cancelled_submit_is_removed_from_batch() -> None:
    clock, model = FakeClock(), FakeModel()
    b = make(model, clock, max_batch=4, max_wait_ms=10)
    keep = asyncio.create_task(b.submit(1, deadline=FAR, priority=Priority.PARTIAL))
    gone = asyncio.create_task(b.submit(2, deadline=FAR, priority=Priority.PARTIAL))
    await settle()
    gone.cancel()
    await settle()
    assert b.stats().queued == 1 and b.stats().cancelled == 1
    clock.advance(0.01)
    assert await keep == 2
    assert model.calls == [[1]]
    assert gone.cancelled()
    await b.close()


async def test_model_error_fails_only_its_batch() -> None:
    clock, model = FakeClock(), FakeModel(fail_on=7)
    b = make(model, clock, max_batch=2, max_wait_ms=10)
    bad = [asyncio.create_task(b.submit(i, deadline=FAR, priority=Priority.FINAL)) for i in (7, 8)]
    results = await asyncio.gather(*bad, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    good = [asyncio.create_task(b.submit(i, deadline=FAR, priority=Priority.FINAL)) for i in (1, 2)]
    assert await asyncio.gather(*good) == [2, 4]
    assert b.stats().failed_batches == 1 and b.stats().batches == 2
    await b.close()


async def test_wrong_result_count_fails_the_batch() -> None:
    clock = FakeClock()

    def short(items: list[int]) -> list[int]:
        return items[:-1]

    b: Batcher[int, int] = Batcher(
        short, BatcherConfig(max_batch=2), clock=clock, sleep=clock.sleep
    )
    tasks = [
        asyncio.create_task(b.submit(i, deadline=FAR, priority=Priority.FINAL)) for i in (1, 2)
    ]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    await b.close()


async def test_one_thread_runs_the_model() -> None:
    clock, model = FakeClock(), FakeModel()
    b = make(model, clock, max_batch=1, max_wait_ms=0)
    for i in range(5):
        await b.submit(i, deadline=FAR, priority=Priority.FINAL)
    assert len(model.threads) == 1
    assert threading.current_thread().name not in model.threads
    await b.close()


async def test_close_drains_queued_requests() -> None:
    clock, model = FakeClock(), FakeModel()
    b = make(model, clock, max_batch=4, max_wait_ms=1000)
    task = asyncio.create_task(b.submit(5, deadline=FAR, priority=Priority.PARTIAL))
    await settle()
    await b.close()
    assert await task == 10
    with pytest.raises(BatcherClosed):
        await b.submit(1, deadline=FAR, priority=Priority.FINAL)


async def test_close_without_drain_fails_queued_requests() -> None:
    clock, model = FakeClock(), FakeModel()
    b = make(model, clock, max_batch=4, max_wait_ms=1000)
    task = asyncio.create_task(b.submit(5, deadline=FAR, priority=Priority.PARTIAL))
    await settle()
    await b.close(drain=False)
    with pytest.raises(BatcherClosed):
        await task
    assert model.calls == []


def test_config_is_validated() -> None:
    with pytest.raises(ValueError):
        BatcherConfig(max_batch=0)
    with pytest.raises(ValueError):
        BatcherConfig(max_queue=0)


class GatedModel:
    """Holds each item until the test releases it; reports each batch as it starts."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.started: asyncio.Queue[list[int]] = asyncio.Queue()
        self.gates: dict[int, threading.Event] = {}
        self.threads: set[str] = set()

    def gate(self, item: int) -> threading.Event:
        return self.gates.setdefault(item, threading.Event())

    def __call__(self, items: list[int]) -> Sequence[int]:
        self.threads.add(threading.current_thread().name)
        self.loop.call_soon_threadsafe(self.started.put_nowait, list(items))
        for item in items:
            self.gate(item).wait(timeout=30)
        return [2 * i for i in items]


def two_lanes(model: GatedModel, clock: FakeClock) -> Batcher[int, int]:
    cfg = BatcherConfig(max_batch=4, max_wait_ms=0, lanes=2)
    return Batcher(model, cfg, clock=clock, sleep=clock.sleep, name="lanes")


async def test_a_final_runs_beside_a_partial_batch_that_is_running() -> None:
    clock, model = FakeClock(), GatedModel()
    b = two_lanes(model, clock)
    partial = asyncio.create_task(b.submit(1, deadline=FAR, priority=Priority.PARTIAL))
    assert await asyncio.wait_for(model.started.get(), 10) == [1]
    final = asyncio.create_task(b.submit(11, deadline=FAR, priority=Priority.FINAL))
    # The final starts while the partial batch is still held in the model.
    assert await asyncio.wait_for(model.started.get(), 10) == [11]
    model.gate(11).set()
    assert await final == 22
    assert not partial.done()
    model.gate(1).set()
    assert await partial == 2
    assert len(model.threads) == 2
    await b.close()


async def test_partial_batches_leave_one_lane_free_for_finals() -> None:
    clock, model = FakeClock(), GatedModel()
    b = two_lanes(model, clock)
    p1 = asyncio.create_task(b.submit(1, deadline=FAR, priority=Priority.PARTIAL))
    assert await asyncio.wait_for(model.started.get(), 10) == [1]
    p2 = asyncio.create_task(b.submit(2, deadline=FAR, priority=Priority.PARTIAL))
    await settle()
    assert model.started.empty() and b.waiting(Priority.PARTIAL) == 1
    final = asyncio.create_task(b.submit(11, deadline=FAR, priority=Priority.FINAL))
    assert await asyncio.wait_for(model.started.get(), 10) == [11]
    model.gate(11).set()
    assert await final == 22
    model.gate(1).set()
    assert await p1 == 2
    # The lane is free again: the waiting partial runs now.
    assert await asyncio.wait_for(model.started.get(), 10) == [2]
    model.gate(2).set()
    assert await p2 == 4
    await b.close()
