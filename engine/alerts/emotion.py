"""Caller emotion as a running state: text and prosody fused per utterance, alerts with hysteresis.

Per caller utterance the monitor gets an :class:`UtteranceEvidence` (text-emotion probabilities
from :mod:`.text_emotion`, prosody from :mod:`.prosody`). For each alerted emotion (anger,
anxiety/fear, distress/sadness) it

1. calibrates the text probability so that the classifier's cross-validated decision threshold
   maps to 0.5,
2. fuses it with the acoustic evidence (arousal for anger and fear, its complement for sadness;
   text alone while there is no audio or the caller's baseline is not formed yet),
3. smooths the fused score over utterances (exponential moving average, faster up than down:
   ``smoothing`` when it rises, ``release`` when it falls), and
4. raises an alert only when the smoothed score crosses ``raise_at`` and clears it only below
   ``clear_at`` (hysteresis: no flapping between two close utterances); crossing
   ``critical_at`` escalates the level once.

Each raise carries a severity, a reason naming the words and the acoustic changes behind it, and
a calming script as a :class:`~jiesu.engine.events.KnowledgeSuggestion`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from jiesu.engine.alerts.prosody import (
    Prosody,
    ProsodyBaseline,
    ProsodyDelta,
    arousal,
    delta,
)
from jiesu.engine.alerts.text_emotion import TextEmotion
from jiesu.engine.audio import Leg
from jiesu.engine.config import _bounded
from jiesu.engine.events import AlertLevel, EmotionAlert, KnowledgeSuggestion
from jiesu.engine.labels import EMOTION_ALERT

#: Alerted emotion -> the text label it reads and whether high (+1) or low (-1) arousal backs it.
ALERTED: Mapping[str, tuple[str, int]] = {
    "anger": ("angry", +1),
    "anxiety": ("fear", +1),
    "distress": ("sad", -1),
}

DEFAULT_CALMING: Mapping[str, str] = {
    "anger": "非常理解您的心情，给您带来不便很抱歉。请您放心，您反映的问题我都记下了，"
    "我们会尽快转交相关部门处理，并在规定时限内给您答复。",
    "anxiety": "您先别着急，我在听。请您慢慢说，我们一起把情况说清楚，我马上帮您联系处理。",
    "distress": "听得出来您现在很难受，谢谢您愿意说出来。您不是一个人，我会尽力帮您找到能帮忙的部门。",
}


@dataclass(frozen=True, slots=True)
class EmotionSettings:
    """Fusion weights and hysteresis thresholds (``[emotion]`` in ``sip_config/alerts.toml``)."""

    text_weight: float = _bounded(0.7, 0.0, 1.0, "weight of text against voice")
    #: Weight of the newest utterance when the score rises (attack) and when it falls
    #: (release): alerts come at the first clearly angry sentence, and one calm sentence after
    #: it (a number, an address) does not clear them.
    smoothing: float = _bounded(0.75, 0.05, 1.0, "weight of the newest utterance, rising")
    release: float = _bounded(0.3, 0.05, 1.0, "weight of the newest utterance, falling")
    raise_at: float = _bounded(0.6, 0.0, 1.0)
    critical_at: float = _bounded(0.8, 0.0, 1.0)
    clear_at: float = _bounded(0.4, 0.0, 1.0)
    baseline_s: float = _bounded(15.0, 1.0, 120.0, "voiced seconds that form the baseline")
    #: Decision thresholds of the text model per label (from the artefact); 0.5 when missing.
    text_thresholds: Mapping[str, float] = field(default_factory=dict, metadata={"internal": True})
    #: Calming script per alerted emotion (from ``[calming]``).
    calming: Mapping[str, str] = field(
        default_factory=lambda: dict(DEFAULT_CALMING), metadata={"internal": True}
    )


@dataclass(frozen=True, slots=True)
class UtteranceEvidence:
    """What is known about one finished caller utterance."""

    utterance_id: str
    text: TextEmotion | None
    prosody: Prosody | None


@dataclass(frozen=True, slots=True)
class EmotionState:
    """Per-call running state: baseline, smoothed scores and which alerts are up at what level."""

    baseline: ProsodyBaseline = field(default_factory=ProsodyBaseline)
    smoothed: Mapping[str, float] = field(default_factory=dict)
    active: Mapping[str, AlertLevel] = field(default_factory=dict)
    utterances: int = 0


def calibrate(p: float, threshold: float) -> float:
    """Piecewise-linear map of a probability with ``threshold`` -> 0.5 (0 -> 0, 1 -> 1)."""
    t = min(max(threshold, 1e-3), 1 - 1e-3)
    return 0.5 * p / t if p < t else 0.5 + 0.5 * (p - t) / (1 - t)


def fuse(
    ev: UtteranceEvidence, d: ProsodyDelta | None, settings: EmotionSettings
) -> dict[str, float]:
    """Fused evidence per alerted emotion in [0, 1] for one utterance."""
    a = arousal(d) if d is not None else 0.5
    out: dict[str, float] = {}
    for emotion, (label, sign) in ALERTED.items():
        acoustic = a if sign > 0 else 1.0 - a
        if ev.text is None:
            # Voice alone never raises an alert (a bad line or a loud room also changes it).
            out[emotion] = min(acoustic, settings.clear_at)
            continue
        text = calibrate(ev.text.probs.get(label, 0.0), settings.text_thresholds.get(label, 0.5))
        # No voice evidence (no audio, or the caller's baseline not formed yet) is not neutral
        # evidence: the text decides alone rather than being pulled towards 0.5.
        w = settings.text_weight if d is not None else 1.0
        out[emotion] = w * text + (1.0 - w) * acoustic
    return out


def _reason(emotion: str, score: float, ev: UtteranceEvidence, d: ProsodyDelta | None) -> str:
    parts = [f"{EMOTION_ALERT[emotion]} {score:.2f}"]
    if ev.text is not None:
        label = ALERTED[emotion][0]
        words = "、".join(f"“{c}”" for c in ev.text.cues) if ev.text.top()[0] == label else ""
        parts.append(f"文本 {ev.text.probs.get(label, 0.0):.2f}" + (f" {words}" if words else ""))
    if d is not None and (described := d.describe()):
        parts.append(f"语音 {described}")
    return "；".join(parts)


def emotion_step(
    state: EmotionState, ev: UtteranceEvidence, settings: EmotionSettings, leg: Leg = Leg.CALLER
) -> tuple[EmotionState, list[EmotionAlert | KnowledgeSuggestion]]:
    """One caller utterance in; raised, escalated or cleared alerts (and calming scripts) out."""
    base = state.baseline
    if base.baseline_s != settings.baseline_s and state.utterances == 0:
        base = replace(base, baseline_s=settings.baseline_s)
    d = delta(ev.prosody, base) if ev.prosody is not None and base.ready else None
    if ev.prosody is not None:
        base = base.update(ev.prosody)
    fused = fuse(ev, d, settings)
    smoothed = {}
    for k, v in fused.items():
        prev = state.smoothed.get(k)
        if prev is None:
            smoothed[k] = v
            continue
        alpha = settings.smoothing if v >= prev else settings.release
        smoothed[k] = alpha * v + (1 - alpha) * prev
    active = dict(state.active)
    out: list[EmotionAlert | KnowledgeSuggestion] = []
    for emotion, score in smoothed.items():
        level = active.get(emotion)
        new_level = level
        if score >= settings.critical_at:
            new_level = AlertLevel.CRITICAL
        elif score >= settings.raise_at and level is None:
            new_level = AlertLevel.WARNING
        elif score < settings.clear_at:
            new_level = None
        if new_level == level or (level is AlertLevel.CRITICAL and new_level is not None):
            continue
        shown = round(score, 3) if not math.isnan(score) else 0.0
        if new_level is None:
            del active[emotion]
            reason = f"{EMOTION_ALERT[emotion]}已缓和 {score:.2f}"
            out.append(EmotionAlert(leg, AlertLevel.INFO, emotion, shown, reason))
            continue
        active[emotion] = new_level
        out.append(EmotionAlert(leg, new_level, emotion, shown, _reason(emotion, score, ev, d)))
        if level is None and (script := settings.calming.get(emotion)):
            out.append(
                KnowledgeSuggestion(
                    entry_id=f"calming.{emotion}",
                    version="1",
                    title=f"安抚话术：{EMOTION_ALERT[emotion]}",
                    answer=script,
                    score=shown,
                    trigger_utterance_id=ev.utterance_id,
                )
            )
    return (
        EmotionState(base, smoothed, active, state.utterances + 1),
        out,
    )
