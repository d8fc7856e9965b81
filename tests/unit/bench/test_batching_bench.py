"""`jiesu bench batching` plumbing with a fake model: no Whisper, no clips, no wall-time waits."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from jiesu.bench.batching import load_clips, measure, plan_work
from jiesu.engine.speech.batcher import BatcherConfig
from jiesu.models.whisper_ct2 import AsrRequest, AsrResult


def _result(text: str) -> AsrResult:
    return AsrResult(text, (), 0.0, 0.0, "zh", 1.0, 500)


class FakeModel:
    """Text = the clip's length; remembers the size of every model call."""

    def __init__(self, batch_dependent: bool = False) -> None:
        self.calls: list[int] = []
        self.batch_dependent = batch_dependent

    def __call__(self, requests: Sequence[AsrRequest]) -> list[AsrResult]:
        self.calls.append(len(requests))
        suffix = f"/{len(requests)}" if self.batch_dependent else ""
        return [_result(f"{len(r.pcm)}{suffix}") for r in requests]


def _clips(n: int) -> list[tuple[str, np.ndarray]]:  # type: ignore[type-arg]
    return [(f"c{i}.wav", np.zeros(1000 + i, dtype=np.float32)) for i in range(n)]


def test_plan_gives_each_wave_different_clips() -> None:
    work = plan_work(_clips(5), calls=3, utterances=4)
    assert len(work) == 3 and all(len(w) == 4 for w in work)
    for k in range(4):
        names = [work[c][k][0] for c in range(3)]
        assert len(set(names)) == 3
    assert {name for w in work for name, _ in w} == {f"c{i}.wav" for i in range(5)}


def test_measure_counts_batches_and_matches_texts() -> None:
    model = FakeModel()
    work = plan_work(_clips(4), calls=4, utterances=3)
    figures = asyncio.run(measure(model, work, rounds=2, config=BatcherConfig(max_batch=4)))
    assert figures["utterances"] == 2 * 4 * 3
    assert figures["text_mismatches"] == 0
    # Timed rounds only: 2 rounds x 3 waves of 4 calls, all gathered into full batches.
    assert figures["batch_size_histogram"] == {"4": 6}
    assert figures["batches"] == 6
    assert figures["ratio"] is not None and figures["ratio"] > 0
    # Sequential mode ran one request per model call.
    assert model.calls.count(1) == 3 * 4 * 3  # warm-up + 2 rounds


def test_measure_reports_text_mismatches() -> None:
    work = plan_work(_clips(2), calls=2, utterances=2)
    figures = asyncio.run(
        measure(FakeModel(batch_dependent=True), work, rounds=1, config=BatcherConfig(max_batch=2))
    )
    assert figures["text_mismatches"] == 4
    assert figures["text_mismatch_examples"][0]["batched"].endswith("/2")


def test_load_clips_cuts_and_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="not found"):
        load_clips(tmp_path / "absent", 10.0)
    with pytest.raises(SystemExit, match="no non-empty"):
        load_clips(tmp_path, 10.0)
    with wave.open(str(tmp_path / "a.wav"), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16_000)
        handle.writeframes(np.full(32_000, 16384, dtype="<i2").tobytes())
    ((name, pcm),) = load_clips(tmp_path, 1.5)
    assert name == "a.wav" and pcm.shape == (24_000,) and pcm[0] == pytest.approx(0.5)
