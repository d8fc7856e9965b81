"""VadStage: order per leg, rounds, the bound, close, drain, failures (a fake model); and the
same probabilities as the per-leg path on real speech (the real Silero 6.2 and WebRTC)."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pytest
from shared_data import MANDARIN_SPEECH

from jiesu.engine.speech.vad_stage import (
    VadBatchCore,
    VadChunk,
    VadClose,
    VadStage,
    VadStageClosed,
    VadStageConfig,
)
from jiesu.models.registry import ModelUnavailable

Pcm = npt.NDArray[np.int16]
#: Long enough that no test depends on the tick timer unless it says so.
NO_TICK = VadStageConfig(tick_ms=60_000.0)


class FakeModel:
    """Per stream: one probability per 2 chunks fed (its latest chunk's first sample / 1000).

    Records each run's streams so tests can see the rounds."""

    def __init__(self) -> None:
        self.next = 0
        self.open: set[int] = set()
        self.runs: list[set[int]] = []
        self.fed: dict[int, int] = {}
        self.fail = False

    def open_stream(self) -> int:
        self.next += 1
        self.open.add(self.next)
        self.fed[self.next] = 0
        return self.next

    def close_stream(self, handle: int) -> None:
        self.open.remove(handle)

    def run(self, frames: Mapping[int, Pcm]) -> dict[int, npt.NDArray[np.float32]]:
        if self.fail:
            raise RuntimeError("model broke")
        self.runs.append(set(frames))
        out = {}
        for h, pcm in frames.items():
            assert h in self.open
            self.fed[h] += 1
            done = self.fed[h] % 2 == 0
            out[h] = np.array([pcm[0] / 1000.0] if done else [], dtype=np.float32)
        return out


class FakeGate:
    """Non-speech when the frame's first sample is negative."""

    frame_samples = 4

    def is_speech(self, frame: Pcm) -> bool:
        return bool(frame[0] >= 0)


def chunk(value: int, n: int = 4) -> Pcm:
    return np.full(n, value, dtype=np.int16)


def make(
    config: VadStageConfig = NO_TICK,
) -> tuple[VadStage[str], FakeModel, list[tuple[str, int, float]]]:
    model = FakeModel()
    got: list[tuple[str, int, float]] = []
    stage: VadStage[str] = VadStage(
        lambda k, s, p: got.append((k, s, p)),
        config,
        core=VadBatchCore(model, FakeGate, veto_cap=0.3),
    )
    return stage, model, got


def test_core_rounds_hold_and_veto() -> None:
    model = FakeModel()
    core: VadBatchCore[str] = VadBatchCore(model, FakeGate, veto_cap=0.3)
    entries: list[VadChunk[str] | VadClose[str]] = [
        VadChunk("a", 0, chunk(100)),
        VadChunk("b", 0, chunk(200)),
        VadChunk("a", 1, chunk(500)),
        VadChunk("a", 2, chunk(-900)),
        VadChunk("b", 1, chunk(-800)),
        VadClose("b"),
    ]
    out = core.process(entries)
    # a: no probability yet (held 0), 0.5 at its 2nd chunk, held 0.5 vetoed to 0.3 at its 3rd;
    # b: 0 then -0.8 (vetoed: min(-0.8, 0.3)).
    assert out == [
        ("a", 0, 0.0),
        ("b", 0, 0.0),
        ("a", 1, pytest.approx(0.5)),
        ("a", 2, 0.3),
        ("b", 1, pytest.approx(-0.8)),
    ]
    assert len(model.runs) == 3, "three rounds: a has three chunks, never one run per leg"
    assert [len(r) for r in model.runs] == [2, 2, 1]
    assert core.open_legs == 1 and len(model.open) == 1, "b was closed after its chunks"
    with pytest.raises(ValueError, match="after its close"):
        core.process([VadClose("a"), VadChunk("a", 3, chunk(1))])


async def test_each_leg_gets_its_chunks_in_order_once_all_legs_have_one() -> None:
    stage, _, got = make()
    done = asyncio.Event()
    async with stage:
        for seq in range(3):
            stage.submit("a", seq, chunk(10 * seq + 1))
            stage.submit("b", 7 + seq, chunk(10 * seq + 2))
        await stage.drain()
        assert [(k, s) for k, s, _ in got if k == "a"] == [("a", 0), ("a", 1), ("a", 2)]
        assert [(k, s) for k, s, _ in got if k == "b"] == [("b", 7), ("b", 8), ("b", 9)]
        # Across legs, answers come in submission order.
        assert [(k, s) for k, s, _ in got][:3] == [("a", 0), ("b", 7), ("a", 1)]
        assert got[2] == ("a", 1, pytest.approx(0.011))
        # With the tick a minute away, a batch still runs as soon as every open leg has a chunk.
        original = stage._on_probability  # type: ignore[attr-defined]

        def note(k: str, s: int, p: float) -> None:
            original(k, s, p)
            if len(got) == 8:
                done.set()

        stage._on_probability = note  # type: ignore[attr-defined]
        stage.submit("a", 3, chunk(1))
        await asyncio.sleep(0)
        assert len(got) == 6, "b has no chunk yet: no batch"
        stage.submit("b", 10, chunk(1))
        await asyncio.wait_for(done.wait(), 10)
        assert stage.stats().batches >= 2


async def test_the_tick_runs_a_batch_when_a_leg_is_missing() -> None:
    stage, _, _ = make(VadStageConfig(tick_ms=1.0))
    done = asyncio.Event()
    async with stage:
        stage.submit("a", 0, chunk(1))
        stage.submit("b", 0, chunk(1))
        await stage.drain()
        stage._on_probability = lambda k, s, p: done.set()  # type: ignore[attr-defined]
        stage.submit("a", 1, chunk(1))  # b never sends: only the tick can run it
        await asyncio.wait_for(done.wait(), 10)


async def test_full_stage_answers_rejected_chunks_in_order_with_the_held_probability() -> None:
    stage, model, got = make(VadStageConfig(tick_ms=60_000.0, max_pending=3))
    async with stage:
        stage.submit("a", 0, chunk(100))
        stage.submit("a", 1, chunk(400))  # a's 2nd chunk: probability 0.4
        assert stage.submit("c", 0, chunk(1))
        assert not stage.submit("a", 2, chunk(999)), "full: not queued"
        assert not stage.submit("b", 0, chunk(999))
        stats = stage.stats()
        assert (stats.queued, stats.rejected, stats.submitted) == (3, 2, 5)
        await stage.drain()
        assert [x for x in got if x[0] == "a"] == [
            ("a", 0, 0.0),
            ("a", 1, pytest.approx(0.4)),
            ("a", 2, pytest.approx(0.4)),  # held, the audio never reached the model
        ]
        assert ("b", 0, 0.0) in got
        assert sum(model.fed.values()) == 3
        # Room again: the next chunk is queued and the leg goes on from where it was.
        assert stage.submit("a", 3, chunk(700))
        await stage.drain()
        assert got[-1] == ("a", 3, pytest.approx(0.4))
        assert stage.stats().queue_high_water == 3


async def test_rejected_chunk_waits_behind_its_legs_queued_chunks() -> None:
    stage, _, got = make(VadStageConfig(tick_ms=60_000.0, max_pending=2))
    async with stage:
        stage.submit("a", 0, chunk(100))
        stage.submit("a", 1, chunk(200))
        assert not stage.submit("a", 2, chunk(300))
        await asyncio.sleep(0)
        assert got == [], "seq 2 must not overtake seqs 0 and 1"
        await stage.drain()
        assert [s for _, s, _ in got] == [0, 1, 2]


async def test_close_frees_the_leg_after_its_chunks_and_the_key_can_start_again() -> None:
    stage, model, got = make()
    async with stage:
        stage.submit("a", 0, chunk(1))
        stage.submit("a", 1, chunk(300))
        stage.close("a")
        with pytest.raises(ValueError, match="closing"):
            stage.submit("a", 2, chunk(1))
        await stage.drain()
        assert [s for _, s, _ in got] == [0, 1]
        assert model.open == set(), "drain waits for closes too"
        stage.close("a")  # unknown again: no-op
        stage.submit("a", 0, chunk(500))  # a new leg, fresh state (held 0)
        await stage.drain()
        assert got[-1] == ("a", 0, 0.0)
        assert len(model.open) == 1


async def test_bad_input_and_seq_gaps_are_refused() -> None:
    stage, model, _ = make()
    with pytest.raises(RuntimeError, match="before start"):
        await stage.drain()
    async with stage:
        with pytest.raises(ValueError, match="int16"):
            stage.submit("a", 0, np.zeros(4, dtype=np.float32))  # type: ignore[arg-type]
        stage.submit("a", 5, chunk(1))
        with pytest.raises(ValueError, match="seq 7 does not follow 5"):
            stage.submit("a", 7, chunk(1))
        stage.close("a")
    assert model.open == set(), "aclose runs the pending close"
    with pytest.raises(VadStageClosed):
        stage.submit("a", 6, chunk(1))


async def test_model_failure_and_callback_errors_still_answer_every_chunk() -> None:
    model = FakeModel()
    got: list[tuple[str, int, float]] = []

    def on_probability(k: str, s: int, p: float) -> None:
        if s == 1:
            raise RuntimeError("consumer bug")
        got.append((k, s, p))

    stage: VadStage[str] = VadStage(
        on_probability, NO_TICK, core=VadBatchCore(model, None, veto_cap=0.3)
    )
    async with stage:
        stage.submit("a", 0, chunk(1))
        stage.submit("a", 1, chunk(600))
        await stage.drain()
        model.fail = True
        stage.submit("a", 2, chunk(1))
        await stage.drain()
    assert got == [("a", 0, 0.0), ("a", 2, pytest.approx(0.6))]
    stats = stage.stats()
    assert (stats.callback_errors, stats.failed_batches) == (1, 1)


# -- real model: the stage gives each leg what the per-leg path gives ---------------------


def _per_leg_reference(pcm: Pcm) -> list[float]:
    """Today's per-leg formula (``silero_vad_factory``) over a stream of the batch model alone:
    latest Silero probability (max of those completed by the chunk), held between chunks,
    capped at 0.3 where WebRTC (aggressiveness 2) calls the 20 ms frame non-speech."""
    from jiesu.models.vad import SileroBatchVad, WebRtcVadGate

    model = SileroBatchVad(max_streams=1)
    stream = model.open_stream()
    gate = WebRtcVadGate(2, 16_000, 20)
    last = 0.0
    out = []
    for i in range(0, len(pcm) - 319, 320):
        frame = pcm[i : i + 320]
        probs = model.run({stream: frame})[stream]
        if len(probs):
            last = float(probs.max())
        out.append(min(last, 0.3) if not gate.is_speech(frame) else last)
    return out


async def test_stage_matches_the_per_leg_path_on_real_speech() -> None:
    names = [
        "firered_BAC009S0764W0121.wav",
        "mossttsd_zh_spk2_moon.wav",
        "speechio_CCTV_1.wav",
        "firered_IT0011W0001.wav",
    ]
    if not all((MANDARIN_SPEECH / n).is_file() for n in names):
        pytest.skip(f"real Mandarin speech not found in {MANDARIN_SPEECH} (set JIESU_SHARED_DATA)")
    clips = []
    for name in names:
        with wave.open(str(MANDARIN_SPEECH / name)) as w:
            clips.append(np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16))
    legs = {f"leg{i}": clips[i % 3][i * 800 :][: 16_000 * 2] for i in range(4)}
    # A quiet talker (-20 dB): WebRTC calls some frames non-speech that Silero calls speech.
    legs["leg3"] = (clips[3][: 16_000 * 2] // 10).astype(np.int16)
    try:
        expected = {k: _per_leg_reference(pcm) for k, pcm in legs.items()}
        stage: VadStage[str] = VadStage(lambda k, s, p: got[k].append((s, p)))
    except ModelUnavailable as exc:
        pytest.skip(f"batchable Silero model not installed: {exc}")
    assert any(p > 0.9 for ps in expected.values() for p in ps)
    assert any(p == 0.3 for ps in expected.values() for p in ps), "the veto must show"
    got: dict[str, list[tuple[int, float]]] = {k: [] for k in legs}
    async with stage:
        n = max(len(e) for e in expected.values())
        for seq in range(n):
            for k, pcm in legs.items():
                if seq < len(expected[k]):
                    stage.submit(k, seq, pcm[seq * 320 : (seq + 1) * 320])
            if seq % 7 == 0:
                await asyncio.sleep(0)  # let batches of varying sizes run meanwhile
        for k in legs:
            stage.close(k)
        await stage.drain()
    for k, e in expected.items():
        assert [s for s, _ in got[k]] == list(range(len(e)))
        assert [p for _, p in got[k]] == e
