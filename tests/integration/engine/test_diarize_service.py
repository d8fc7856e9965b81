"""Diarization service into a real event log: speaker.turn events for mixed legs only, media
times offset by the leg's start, bounded backlog, refused chunks counted; and once with the
real models (Silero, CAM++) on a real mixed call."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from diarize_fakes import RATE, SCENE, SCENE_TRUTH, BandEmbedder, EnergyVad
from shared_data import SHARED_DATA

from jiesu.codecs.resample import resample
from jiesu.engine.audio import AudioChunk, Leg
from jiesu.engine.diarize.online import OnlineDiarizer
from jiesu.engine.diarize.service import DiarizationService, build_diarization
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import SpeakerTurn
from jiesu.engine.metrics import Metrics
from jiesu.models.registry import ModelUnavailable

CHUNK = RATE // 50


def chunks(
    call_id: str, pcm: npt.NDArray[np.int16], leg: Leg = Leg.MIXED, base_ms: int = 0
) -> list[AudioChunk]:
    return [
        AudioChunk(call_id, leg, n, base_ms + 20 * n, pcm[i : i + CHUNK])
        for n, i in enumerate(range(0, len(pcm), CHUNK))
    ]


async def turns(log: EventLog, call_id: str) -> list[SpeakerTurn]:
    return [e.payload for e in await log.read(call_id) if isinstance(e.payload, SpeakerTurn)]


@pytest.fixture
async def event_log(tmp_path: Path) -> EventLog:
    log = EventLog(tmp_path / "events.sqlite3", synchronous="NORMAL")
    await log.start()
    yield log  # type: ignore[misc]
    await log.close()


def fake_factory() -> OnlineDiarizer:
    return OnlineDiarizer(EnergyVad(), BandEmbedder())


async def test_mixed_leg_turns_reach_the_log_with_media_times(event_log: EventLog) -> None:
    metrics = Metrics()
    service = DiarizationService(event_log, metrics, fake_factory, max_backlog=2000)
    for c in chunks("c1", SCENE, base_ms=1000):
        service.audio(c)
    for c in chunks("c1", SCENE, leg=Leg.CALLER):
        service.audio(c)  # two-leg audio is not diarized
    await service.end_call("c1")
    got = await turns(event_log, "c1")
    assert [(t.leg, t.speaker) for t in got] == [(Leg.MIXED, s) for s, _, _ in SCENE_TRUTH]
    for t, (_, start, end) in zip(got, SCENE_TRUTH, strict=True):
        assert t.t_start == pytest.approx(1000 + 1000 * start, abs=400)
        assert t.t_end == pytest.approx(1000 + 1000 * end, abs=400)
    assert metrics.value("diarize_turns_total") == 3
    assert metrics.value("diarize_chunks_dropped_total") == 0
    await service.end_call("c1")  # a second end is harmless


async def test_full_backlog_drops_chunks_but_keeps_media_time(event_log: EventLog) -> None:
    metrics = Metrics()
    made: list[OnlineDiarizer] = []

    def factory() -> OnlineDiarizer:
        made.append(fake_factory())
        return made[-1]

    service = DiarizationService(event_log, metrics, factory, max_backlog=5)
    all_chunks = chunks("c2", SCENE)
    for c in all_chunks:  # no await in between: the worker cannot drain
        service.audio(c)
    dropped = metrics.value("diarize_chunks_dropped_total")
    assert dropped == len(all_chunks) - 5
    await service.end_call("c2")
    # The dropped chunks were fed as silence: the timeline is whole, only their audio is lost
    # (so the diarizer heard the first 0.1 s and no turn came out).
    assert made[0]._n_frames * 512 <= len(SCENE) < (made[0]._n_frames + 1) * 512
    assert await turns(event_log, "c2") == []


async def test_chunks_at_another_rate_are_refused_and_counted(event_log: EventLog) -> None:
    metrics = Metrics()
    service = DiarizationService(event_log, metrics, fake_factory)
    service.audio(AudioChunk("c3", Leg.MIXED, 0, 0, np.zeros(160, dtype=np.int16), rate=8000))
    await service.close()
    assert metrics.value("diarize_chunks_bad_total") == 1
    assert await turns(event_log, "c3") == []


def read(path: Path) -> npt.NDArray[np.int16]:
    if not path.is_file():
        pytest.skip(f"{path} not found (set JIESU_SHARED_DATA to the shared data folder)")
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    return resample(pcm, rate, RATE) if rate != RATE else pcm


async def test_real_models_on_a_real_mixed_call(event_log: EventLog) -> None:
    try:
        service = build_diarization(event_log, Metrics())
    except ModelUnavailable as exc:
        pytest.skip(f"needs the optional extra: pip install -e .[diarization] ({exc})")
    call = SHARED_DATA / "calls" / "en_two_party"
    caller = read(call / "Auto_Repairs_40_UTC_caller.wav")[: 60 * RATE]
    agent = read(call / "Auto_Repairs_40_UTC_agent.wav")[: 60 * RATE]
    mix = np.clip(caller.astype(np.int32) + agent, -32768, 32767).astype(np.int16)
    for c in chunks("real", mix):
        service.audio(c)
    await service.end_call("real")
    got = await turns(event_log, "real")
    assert len({t.speaker for t in got}) == 2, got
    # Each turn lies mostly where its leg is the louder one.
    agreement = []
    for t in got:
        a, b = t.t_start * RATE // 1000, t.t_end * RATE // 1000
        caller_louder = np.abs(caller[a:b]).mean() > np.abs(agent[a:b]).mean()
        agreement.append((t.speaker, caller_louder))
    by_speaker = {s: [c for sp, c in agreement if sp == s] for s, _ in agreement}
    fractions = sorted(float(np.mean(v)) for v in by_speaker.values())
    assert fractions[0] < 0.2 and fractions[-1] > 0.8, by_speaker
