"""Speech probability for every leg, batched across legs on one thread off the event loop.

Today each (call, leg) runs its own Silero ONNX call per 32 ms chunk on the event loop. Here the
event loop only queues each leg's 20 ms chunk (:meth:`VadStage.submit`, a deque append); one
executor thread runs, per tick, ONE Silero call over every leg that completed a 512-sample
chunk (:class:`~jiesu.models.vad.SileroBatchVad`), applies each leg's WebRTC veto there too,
and the probabilities come back to the loop through ``on_probability(key, seq, probability)``.

What a leg receives is what :func:`jiesu.engine.speech.pipeline.silero_vad_factory` computes
per chunk: the latest Silero probability of the leg (held between 512-sample chunks; the
highest when one 20 ms chunk completes several), capped at ``veto_cap`` (0.3) when the leg's
own WebRTC VAD (aggressiveness 2) calls the 20 ms frame non-speech. Only the model differs:
Silero VAD 6.2 (``silero-vad-batch``) in place of faster-whisper's v6 file, see docs/vad.md.

Contract:

- ``on_probability`` runs on the event loop, exactly once per submitted chunk, in ``seq``
  order per key (across keys in submission order within a batch). A key's seqs must be
  consecutive (``AudioChunk.seq`` is); the first one may be any number.
- A tick runs when every open key has a chunk waiting, or ``tick_ms`` after the first chunk
  of the round was queued, whichever is first; one batch is in flight at a time.
- Bound: at most ``max_pending`` chunks wait (not counting the batch being run). When full,
  :meth:`VadStage.submit` returns ``False``: the chunk's audio is not queued (Silero and WebRTC
  never see it) and it is still answered, in order, with the probability last delivered to its
  key ("held", as between Silero chunks), counted in ``stats().rejected``. The loop never
  waits and a leg's endpointer never misses a chunk; the stage is then a whole backlog behind
  real time, which is an overload the caller should shed (refuse new calls), not absorb.
- :meth:`VadStage.close` ends a key: its Silero slot and WebRTC state are freed after its
  queued chunks are answered; the key may be submitted again (as a new leg) only after that.

Example (what the pipeline integration looks like; ``LegRecognizer`` keeps its injected
``speech_probability``, which now returns the probability the stage gave the chunk)::

    class _Leg:                        # per (call, leg) in SpeechPipeline
        recognizer: LegRecognizer     # built with speech_probability=lambda pcm: self.prob
        waiting: deque[AudioChunk]    # chunks submitted, probability not back yet
        prob: float = 0.0

    stage: VadStage[tuple[str, Leg]] = VadStage(on_probability=pipeline.on_vad)
    await stage.start()                              # in the pipeline's start-up

    def audio(self, chunk: AudioChunk) -> None:      # on the loop: no model work any more
        key = (chunk.call_id, chunk.leg)
        self.legs[key].waiting.append(chunk)
        self.stage.submit(key, chunk.seq, chunk.pcm)  # False: full, answered with held prob

    def on_vad(self, key, seq: int, probability: float) -> None:  # on the loop, in seq order
        leg = self.legs[key]
        chunk = leg.waiting.popleft()                 # chunk.seq == seq
        leg.prob = probability
        for decode in leg.recognizer.push(chunk):     # the endpointer sees it as today
            self._schedule(...)

    async def end_call(self, call_id: str) -> None:
        for key in keys_of(call_id):
            self.stage.close(key)                     # after the leg's last submit
        await self.stage.drain()                      # every chunk answered, legs pushed
        ...                                           # then flush the recognisers as today

    await stage.aclose()                             # at shutdown
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
Pcm = npt.NDArray[np.int16]

__all__ = [
    "BatchVadModel",
    "FrameGate",
    "VadBatchCore",
    "VadChunk",
    "VadClose",
    "VadStage",
    "VadStageClosed",
    "VadStageConfig",
    "VadStageStats",
    "silero_batch_core",
]


class BatchVadModel(Protocol):
    """What the core needs of a multi-stream VAD (:class:`~jiesu.models.vad.SileroBatchVad`)."""

    def open_stream(self) -> Any: ...

    def close_stream(self, handle: Any) -> None: ...

    def run(self, frames: Mapping[Any, Pcm]) -> Mapping[Any, npt.NDArray[np.float32]]: ...


class FrameGate(Protocol):
    """A per-leg frame gate (:class:`~jiesu.models.vad.WebRtcVadGate`); stateful, one per leg."""

    frame_samples: int

    def is_speech(self, frame: Pcm) -> bool: ...


class VadStageClosed(Exception):
    """The stage is closed; nothing more is accepted."""


@dataclass(frozen=True, slots=True)
class VadStageConfig:
    """Tuning of a :class:`VadStage`."""

    #: Longest wait between the first chunk of a round and its batch.
    tick_ms: float = 20.0
    #: Most chunks waiting for the model thread (all legs together).
    max_pending: int = 4096
    #: WebRTC aggressiveness of the veto (0..3); ``None``: no veto.
    veto_aggressiveness: int | None = 2
    #: A frame the veto calls non-speech gets at most this probability.
    veto_cap: float = 0.3
    #: onnxruntime intra-op threads of the Silero session.
    threads: int = 1
    #: Most legs open at once (Silero state slots).
    max_streams: int = 1024

    def __post_init__(self) -> None:
        if self.tick_ms <= 0:
            raise ValueError("tick_ms must be positive")
        if self.max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        if self.veto_aggressiveness not in (None, 0, 1, 2, 3):
            raise ValueError("veto_aggressiveness must be 0..3 or None")


@dataclass(frozen=True, slots=True)
class VadChunk(Generic[K]):
    """One leg's chunk of 16 kHz int16 audio, for the core."""

    key: K
    seq: int
    pcm: Pcm


@dataclass(frozen=True, slots=True)
class VadClose(Generic[K]):
    """The end of a leg, for the core: free its stream after its earlier chunks."""

    key: K


@dataclass
class _CoreLeg:
    handle: Any
    gate: FrameGate | None
    #: Latest Silero probability (before the veto), held between 512-sample chunks.
    last: float = 0.0


class VadBatchCore(Generic[K]):
    """Sans-I/O: a batch of chunks and closes in, one probability per chunk out (in order).

    Keys are opened on their first chunk. A batch is cut into rounds: round ``r`` holds the
    ``r``-th chunk of every key in the batch, and each round is one ``model.run`` (one ONNX
    call when any leg completes a 512-sample chunk), so a leg that is two chunks behind costs
    two calls for everyone, never one call per leg. Runs on the stage's executor thread only.
    """

    def __init__(
        self,
        model: BatchVadModel,
        gate_factory: Callable[[], FrameGate] | None,
        veto_cap: float = 0.3,
    ) -> None:
        self._model = model
        self._gate_factory = gate_factory
        self._veto_cap = veto_cap
        self._legs: dict[K, _CoreLeg] = {}

    @property
    def model(self) -> BatchVadModel:
        return self._model

    @property
    def open_legs(self) -> int:
        return len(self._legs)

    def process(self, entries: Sequence[VadChunk[K] | VadClose[K]]) -> list[tuple[K, int, float]]:
        """``(key, seq, probability)`` for every chunk of ``entries``, in their order."""
        rounds: list[dict[K, int]] = []  # key -> index into entries
        depth: dict[K, int] = {}
        closes: list[K] = []
        for i, entry in enumerate(entries):
            if isinstance(entry, VadClose):
                closes.append(entry.key)
                continue
            if entry.key in closes:
                raise ValueError(f"chunk of {entry.key!r} after its close in one batch")
            r = depth.get(entry.key, 0)
            depth[entry.key] = r + 1
            if r == len(rounds):
                rounds.append({})
            rounds[r][entry.key] = i
        out: list[tuple[K, int, float] | None] = [None] * len(entries)
        for round_ in rounds:
            legs = {key: self._leg(key) for key in round_}
            frames: dict[Any, Pcm] = {}
            for key, i in round_.items():
                chunk = entries[i]
                assert isinstance(chunk, VadChunk)
                frames[legs[key].handle] = chunk.pcm
            probs = self._model.run(frames)
            for key, i in round_.items():
                chunk = entries[i]
                assert isinstance(chunk, VadChunk)
                leg = legs[key]
                p = probs[leg.handle]
                if len(p):
                    leg.last = float(p.max())
                probability = leg.last
                gate = leg.gate
                if (
                    gate is not None
                    and len(chunk.pcm) == gate.frame_samples
                    and not gate.is_speech(chunk.pcm)
                ):
                    probability = min(probability, self._veto_cap)
                out[i] = (key, chunk.seq, probability)
        for key in closes:
            leg_ = self._legs.pop(key, None)
            if leg_ is not None:
                self._model.close_stream(leg_.handle)
        return [o for o in out if o is not None]

    def _leg(self, key: K) -> _CoreLeg:
        leg = self._legs.get(key)
        if leg is None:
            gate = self._gate_factory() if self._gate_factory is not None else None
            leg = self._legs[key] = _CoreLeg(self._model.open_stream(), gate)
        return leg


@dataclass(frozen=True, slots=True)
class VadStageStats:
    """A snapshot of a stage's counters."""

    submitted: int
    #: Chunks answered with the held probability because the stage was full.
    rejected: int
    batches: int
    failed_batches: int
    callback_errors: int
    queued: int
    queue_high_water: int
    #: CPU seconds the model thread spent in batches (Silero, WebRTC, bookkeeping).
    worker_cpu_s: float


@dataclass
class _StageLeg:
    #: Last seq submitted and last seq answered.
    submitted: int
    answered: int
    #: Chunks of this leg queued or in flight (not yet answered).
    outstanding: int = 0
    held: float = 0.0
    closing: bool = False


@dataclass
class _Counters:
    submitted: int = 0
    rejected: int = 0
    batches: int = 0
    failed_batches: int = 0
    callback_errors: int = 0
    high_water: int = 0
    worker_cpu_s: float = 0.0
    answered: int = 0
    #: Entries (chunks and closes) queued, and taken by batches that have finished.
    enqueued: int = 0
    processed: int = 0


@dataclass
class _Drain:
    answered: int
    processed: int
    future: asyncio.Future[None]


@dataclass
class _Queue(Generic[K]):
    entries: deque[VadChunk[K] | VadClose[K]] = field(default_factory=deque)
    chunks: int = 0
    #: Open keys that have a chunk in ``entries``.
    keys: set[K] = field(default_factory=set)
    first_at: float = 0.0


class VadStage(Generic[K]):
    """The event loop's door to the batched VAD: :meth:`submit` chunks, get probabilities back
    through ``on_probability(key, seq, probability)`` (on the loop, in seq order per key).

    ``core`` replaces the real model (Silero VAD 6.2 batched + per-leg WebRTC veto, loaded at
    construction) in tests. See the module docstring for the contract and an example.
    """

    def __init__(
        self,
        on_probability: Callable[[K, int, float], None],
        config: VadStageConfig = VadStageConfig(),
        *,
        core: VadBatchCore[K] | None = None,
    ) -> None:
        self._on_probability = on_probability
        self._config = config
        self._core = core if core is not None else silero_batch_core(config)
        self._executor: ThreadPoolExecutor | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._queue: _Queue[K] = _Queue()
        self._legs: dict[K, _StageLeg] = {}
        #: Legs submitted to and not closing (kept as a count: submit checks it every time).
        self._open = 0
        self._counters = _Counters()
        self._drains: list[_Drain] = []
        self._closed = False

    async def start(self) -> None:
        """Start the model thread and the tick (on the running loop)."""
        if self._pump_task is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vad")
        self._pump_task = asyncio.get_running_loop().create_task(self._pump(), name="vad-stage")

    async def __aenter__(self) -> VadStage[K]:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def submit(self, key: K, seq: int, pcm: Pcm) -> bool:
        """Queue one chunk of ``key`` (16 kHz int16, 1-D); never blocks.

        Returns ``True`` when queued, ``False`` when the stage was full (the chunk is answered
        with the held probability, see the module docstring). Raises ``ValueError`` for bad
        audio, a seq that does not follow the key's previous one, or a key that is closing,
        and :class:`VadStageClosed` after :meth:`aclose`.
        """
        if self._closed:
            raise VadStageClosed("the VAD stage is closed")
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ValueError(f"pcm must be 1-D int16, got {pcm.dtype} {pcm.shape}")
        leg = self._legs.get(key)
        if leg is None:
            leg = self._legs[key] = _StageLeg(submitted=seq - 1, answered=seq - 1)
            self._open += 1
        elif leg.closing:
            raise ValueError(f"{key!r} is closing; submit again after its close is answered")
        if seq != leg.submitted + 1:
            raise ValueError(f"{key!r}: seq {seq} does not follow {leg.submitted}")
        leg.submitted = seq
        self._counters.submitted += 1
        queue = self._queue
        if queue.chunks >= self._config.max_pending:
            self._counters.rejected += 1
            if leg.outstanding == 0:
                # Nothing of this leg is ahead of it: answer on the next loop turn, never from
                # inside submit (the callback may call submit).
                asyncio.get_running_loop().call_soon(self._answer_held, key)
            return False
        self._enqueue(VadChunk(key, seq, pcm))
        leg.outstanding += 1
        queue.chunks += 1
        self._counters.high_water = max(self._counters.high_water, queue.chunks)
        if key not in queue.keys:
            queue.keys.add(key)
            if len(queue.keys) >= self._open:
                self._wake.set()
        return True

    def close(self, key: K) -> None:
        """End ``key``: free its state once its queued chunks are answered (unknown: no-op)."""
        leg = self._legs.get(key)
        if leg is None or leg.closing:
            return
        leg.closing = True
        self._open -= 1
        # Close markers are not bounded by max_pending: at most one per open key.
        self._enqueue(VadClose(key))
        queue = self._queue
        queue.keys.discard(key)
        if queue.keys and len(queue.keys) >= self._open:
            self._wake.set()

    async def drain(self) -> None:
        """Run what is queued now (without waiting for the tick) and return once every chunk
        submitted before the call has been answered and every close before it done."""
        if self._pump_task is None:
            raise RuntimeError("VadStage.drain() before start()")
        c = self._counters
        drain = _Drain(c.submitted, c.enqueued, asyncio.get_running_loop().create_future())
        if c.answered >= drain.answered and c.processed >= drain.processed:
            return
        self._drains.append(drain)
        self._wake.set()
        await drain.future

    async def aclose(self) -> None:
        """Answer what was submitted, stop the tick and the model thread."""
        if self._closed:
            return
        if self._pump_task is not None:
            await self.drain()
        self._closed = True
        task, self._pump_task = self._pump_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._timer is not None:
            self._timer.cancel()
        executor, self._executor = self._executor, None
        if executor is not None:
            # Joining the thread blocks: do it off the loop.
            await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)

    @property
    def core(self) -> VadBatchCore[K]:
        return self._core

    def stats(self) -> VadStageStats:
        c = self._counters
        return VadStageStats(
            submitted=c.submitted,
            rejected=c.rejected,
            batches=c.batches,
            failed_batches=c.failed_batches,
            callback_errors=c.callback_errors,
            queued=self._queue.chunks,
            queue_high_water=c.high_water,
            worker_cpu_s=c.worker_cpu_s,
        )

    # -- internals --------------------------------------------------------------------------

    def _enqueue(self, entry: VadChunk[K] | VadClose[K]) -> None:
        queue = self._queue
        if not queue.entries:
            loop = asyncio.get_running_loop()
            queue.first_at = loop.time()
            if self._timer is None:
                self._timer = loop.call_at(queue.first_at + self._config.tick_ms / 1000, self._tick)
        queue.entries.append(entry)
        self._counters.enqueued += 1

    def _tick(self) -> None:
        self._timer = None
        self._wake.set()

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            batch, self._queue = self._queue, _Queue()
            if not batch.entries:
                self._settle_drains()
                continue
            entries = list(batch.entries)
            assert self._executor is not None
            try:
                results = await loop.run_in_executor(self._executor, self._run_batch, entries)
            except Exception:
                log.exception("VAD batch of %d entries failed", len(entries))
                self._counters.failed_batches += 1
                results = None
            self._counters.batches += 1
            self._counters.processed += len(entries)
            self._deliver(entries, results)
            if self._queue.entries:
                # Chunks that came in during the batch: run them at their own tick, or now if
                # every open key already has one (or someone is draining).
                if self._drains or len(self._queue.keys) >= self._open:
                    self._wake.set()
                elif self._timer is None:
                    self._timer = loop.call_at(
                        self._queue.first_at + self._config.tick_ms / 1000, self._tick
                    )
            self._settle_drains()

    def _run_batch(self, entries: list[VadChunk[K] | VadClose[K]]) -> list[tuple[K, int, float]]:
        start = time.thread_time()
        try:
            return self._core.process(entries)
        finally:
            # Only this thread writes it; the loop reads it in stats().
            self._counters.worker_cpu_s += time.thread_time() - start

    def _deliver(
        self,
        entries: list[VadChunk[K] | VadClose[K]],
        results: list[tuple[K, int, float]] | None,
    ) -> None:
        if results is None:
            # The model failed: answer every chunk with its leg's held probability, in order.
            results = []
            for entry in entries:
                if isinstance(entry, VadChunk):
                    leg = self._legs.get(entry.key)
                    results.append((entry.key, entry.seq, leg.held if leg else 0.0))
        touched: dict[K, None] = {}
        for key, seq, probability in results:
            leg = self._legs.get(key)
            if leg is None:
                continue
            leg.outstanding -= 1
            # Chunks rejected while this one was queued come after it; earlier ones before.
            self._answer(key, leg, seq, probability)
            touched[key] = None
        for entry in entries:
            if isinstance(entry, VadClose):
                touched[entry.key] = None
        for key in touched:
            leg = self._legs.get(key)
            if leg is None:
                continue
            if leg.outstanding == 0:
                self._answer_tail(key, leg)
                if leg.closing:
                    del self._legs[key]

    def _answer_held(self, key: K) -> None:
        leg = self._legs.get(key)
        if leg is not None and leg.outstanding == 0:
            self._answer_tail(key, leg)
        self._settle_drains()

    def _answer_tail(self, key: K, leg: _StageLeg) -> None:
        """Answer the rejected chunks after the leg's last answered one (held probability)."""
        while leg.answered < leg.submitted:
            self._call(key, leg.answered + 1, leg.held)
            leg.answered += 1

    def _answer(self, key: K, leg: _StageLeg, seq: int, probability: float) -> None:
        while leg.answered < seq - 1:  # rejected chunks that were submitted before this one
            self._call(key, leg.answered + 1, leg.held)
            leg.answered += 1
        leg.held = probability
        leg.answered = seq
        self._call(key, seq, probability)

    def _call(self, key: K, seq: int, probability: float) -> None:
        self._counters.answered += 1
        try:
            self._on_probability(key, seq, probability)
        except Exception:
            self._counters.callback_errors += 1
            log.exception("on_probability failed for %r seq %d", key, seq)

    def _settle_drains(self) -> None:
        c = self._counters
        keep: list[_Drain] = []
        for drain in self._drains:
            if c.answered >= drain.answered and c.processed >= drain.processed:
                if not drain.future.done():
                    drain.future.set_result(None)
            else:
                keep.append(drain)
        self._drains = keep


def silero_batch_core(config: VadStageConfig = VadStageConfig()) -> VadBatchCore[Any]:
    """The production core: Silero VAD 6.2 over every leg in one session, and a WebRTC gate
    per leg (``config.veto_aggressiveness``) for the veto. Loads the model."""
    from jiesu.models.vad import SileroBatchVad, WebRtcVadGate

    model = SileroBatchVad(threads=config.threads, max_streams=config.max_streams)
    aggressiveness = config.veto_aggressiveness

    def webrtc_gate() -> FrameGate:
        assert aggressiveness is not None
        return WebRtcVadGate(aggressiveness=aggressiveness, rate=16_000, frame_ms=20)

    gates = webrtc_gate if aggressiveness is not None else None
    return VadBatchCore(model, gates, veto_cap=config.veto_cap)
