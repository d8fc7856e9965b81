"""AlertService on a real event log: a scripted call's events in, alerts and tips stored after them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jiesu.engine.alerts.config import load_alerts
from jiesu.engine.alerts.loaders import load_text_emotion
from jiesu.engine.alerts.service import AlertService
from jiesu.engine.audio import AudioChunk, Leg
from jiesu.engine.eventlog import EventLog
from jiesu.engine.events import (
    AlertLevel,
    CallEnded,
    CallMode,
    CallStarted,
    CoachingTip,
    EmotionAlert,
    KnowledgeSuggestion,
    RiskAlert,
    TranscriptFinal,
    TranscriptPartial,
)
from jiesu.engine.metrics import Metrics


async def test_a_call_through_the_service(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.sqlite3")
    await log.start()
    metrics = Metrics()
    # Character head only (no embedder): fast, and the shipped artefact without shared data.
    service = AlertService(log, metrics, load_alerts(), load_text_emotion(), tick_s=3600)
    await service.start()
    try:
        c = "call-1"
        await log.append(c, 0, CallStarted("12345", "a1", CallMode.ASSIST, (Leg.CALLER, Leg.AGENT)))
        await log.append(c, 2000, TranscriptFinal(Leg.AGENT, "a0", "喂，说吧", 500, 2000))
        await log.append(
            c, 4000, TranscriptPartial(Leg.CALLER, "u1", "我家楼下着火", 2500, 4000, 3)
        )
        await log.append(
            c, 6000, TranscriptFinal(Leg.CALLER, "u1", "我家楼下着火了，好多烟", 2500, 6000)
        )
        angry = "我都打了五次电话了，你们到底管不管，气死人了，太过分了"
        for i in range(3):
            t = 7000 + i * 4000
            await log.append(
                c, t + 3000, TranscriptFinal(Leg.CALLER, f"u{i + 2}", angry, t, t + 3000)
            )
        await log.append(c, 20000, TranscriptFinal(Leg.AGENT, "a1", "这个不归我们管", 19000, 20000))
        await log.append(c, 21000, CallEnded("hangup"))
        await service.idle()
        events = await log.read(c)
    finally:
        await service.close()
        await log.close()
    payloads = [e.payload for e in events]
    risks = [p for p in payloads if isinstance(p, RiskAlert)]
    assert [(r.kind, r.level) for r in risks] == [("fire", AlertLevel.CRITICAL)]
    # The risk alert follows the partial that named it, before the final of that utterance.
    kinds = [type(p).__name__ for p in payloads]
    assert kinds.index("RiskAlert") < next(
        i
        for i, p in enumerate(payloads)
        if isinstance(p, TranscriptFinal) and p.utterance_id == "u1"
    )
    anger = [p for p in payloads if isinstance(p, EmotionAlert) and p.emotion == "anger"]
    assert anger and anger[0].level in (AlertLevel.WARNING, AlertLevel.CRITICAL)
    assert "气死" in anger[0].reason or "管不管" in anger[0].reason or "过分" in anger[0].reason
    assert any(
        isinstance(p, KnowledgeSuggestion) and p.entry_id == "calming.anger" for p in payloads
    )
    tips = [p.tip_id for p in payloads if isinstance(p, CoachingTip)]
    assert "greeting" in tips and "forbidden" in tips
    assert metrics.value("alerts_errors_total", {"event": "transcript.final"}) == 0
    assert metrics.value("alerts_events_total", {"type": "alert.risk"}) == 1


def _voice(seconds: float, f0: float, level: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3))
    return (wave * level * 32767 / 2).astype(np.int16)


async def test_caller_audio_gives_prosody_and_a_louder_higher_voice_reads_as_aroused(
    tmp_path: Path,
) -> None:
    """The router's chunks reach the service; finals are measured on their own span."""
    log = EventLog(tmp_path / "events.sqlite3")
    await log.start()
    metrics = Metrics()
    service = AlertService(log, metrics, load_alerts(), load_text_emotion(), tick_s=3600)
    await service.start()
    c = "call-voice"
    try:
        await log.append(c, 0, CallStarted("12345", "a1", CallMode.ASSIST, (Leg.CALLER, Leg.AGENT)))
        calm, loud = _voice(6.0, 140.0, 0.1), _voice(3.0, 230.0, 0.8)
        pcm = np.concatenate((calm, loud))
        for seq, start in enumerate(range(0, len(pcm), 320)):
            chunk = AudioChunk(c, Leg.CALLER, seq, start // 16, pcm[start : start + 320])
            service.audio(chunk)
        text = "我想问一下这个事情怎么办理"
        angry = "我都打了五次电话了，你们到底管不管，气死人了，太过分了"
        await log.append(c, 6000, TranscriptFinal(Leg.CALLER, "u1", text, 0, 6000))
        await log.append(c, 9000, TranscriptFinal(Leg.CALLER, "u2", angry, 6000, 9000))
        # Gone from the ring (older than its 40 s): judged on text alone, and counted.
        await log.append(c, 9500, TranscriptFinal(Leg.CALLER, "u3", text, 9000, 60000))
        await log.append(c, 61000, CallEnded("hangup"))
        await service.idle()
        events = await log.read(c)
    finally:
        await service.close()
        await log.close()
    assert metrics.value("alerts_prosody_total", {"audio": "True"}) == 2
    assert metrics.value("alerts_prosody_total", {"audio": "False"}) == 1
    anger = [p for e in events if isinstance(p := e.payload, EmotionAlert) and p.emotion == "anger"]
    # The reason names the voice's change against the caller's own calm first seconds.
    assert anger and "语音" in anger[0].reason and "音高+" in anger[0].reason, anger
    assert metrics.value("alerts_errors_total", {"event": "transcript.final"}) == 0


async def test_a_flood_of_finals_is_read_back_from_the_log_not_dropped(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.sqlite3")
    await log.start()
    metrics = Metrics()
    service = AlertService(
        log, metrics, load_alerts(), load_text_emotion(), tick_s=3600, queue_limit=8
    )
    await service.start()
    try:
        c = "flood"
        await log.append(c, 0, CallStarted("12345", "a1", CallMode.ASSIST, (Leg.CALLER, Leg.AGENT)))
        # 40 finals published in one go: far past the call's queue of 8.
        finals = [
            (t, TranscriptFinal(Leg.CALLER, f"u{i}", f"第{i}句，我想问一下", t - 900, t))
            for i, t in enumerate(range(1000, 41000, 1000))
        ]
        await log.append_many(c, finals)
        await service.idle()
    finally:
        await service.close()
        await log.close()
    assert metrics.value("alerts_queue_overflows_total") == 1
    assert metrics.value("alerts_prosody_total", {"audio": "False"}) == 40, "every final judged"


async def test_calls_without_an_end_are_forgotten_beyond_the_limit(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.sqlite3")
    await log.start()
    metrics = Metrics()
    service = AlertService(
        log, metrics, load_alerts(), load_text_emotion(), tick_s=3600, max_calls=3
    )
    for i in range(5):
        service.audio(AudioChunk(f"c{i}", Leg.CALLER, 0, 0, np.zeros(320, np.int16)))
    await log.close()
    assert metrics.value("alerts_calls_evicted_total") == 2
