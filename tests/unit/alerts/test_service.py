"""AlertService on a real event log: a scripted call's events in, alerts and tips stored after them."""

from __future__ import annotations

from pathlib import Path

from jiesu.engine.alerts.config import load_alerts
from jiesu.engine.alerts.service import AlertService
from jiesu.engine.alerts.text_emotion import TextEmotionModel
from jiesu.engine.audio import Leg
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
    service = AlertService(log, metrics, load_alerts(), TextEmotionModel.load(), tick_s=3600)
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
