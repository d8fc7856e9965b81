"""Emotion fusion and running state: hysteresis, escalation, clearing, reasons, calming scripts."""

from __future__ import annotations

from jiesu.engine.alerts.emotion import (
    EmotionSettings,
    EmotionState,
    UtteranceEvidence,
    calibrate,
    emotion_step,
)
from jiesu.engine.alerts.prosody import Prosody
from jiesu.engine.alerts.text_emotion import LABELS, TextEmotion
from jiesu.engine.events import AlertLevel, EmotionAlert, KnowledgeSuggestion

SETTINGS = EmotionSettings(
    smoothing=1.0, release=1.0, text_weight=1.0, text_thresholds={"angry": 0.4}
)


def text(angry: float, cues: tuple[str, ...] = ("太过分",)) -> TextEmotion:
    rest = (1.0 - angry) / (len(LABELS) - 1)
    return TextEmotion({lab: angry if lab == "angry" else rest for lab in LABELS}, cues)


def run(
    probs: list[float], settings: EmotionSettings = SETTINGS
) -> list[list[EmotionAlert | KnowledgeSuggestion]]:
    state, outs = EmotionState(), []
    for i, p in enumerate(probs):
        state, out = emotion_step(state, UtteranceEvidence(f"u{i}", text(p), None), settings)
        outs.append(out)
    return outs


def anger(out: list[EmotionAlert | KnowledgeSuggestion]) -> list[EmotionAlert]:
    return [e for e in out if isinstance(e, EmotionAlert) and e.emotion == "anger"]


def test_calibration_maps_threshold_to_half() -> None:
    assert calibrate(0.4, 0.4) == 0.5
    assert calibrate(0.0, 0.4) == 0.0 and calibrate(1.0, 0.4) == 1.0
    assert calibrate(0.2, 0.4) < 0.5 < calibrate(0.6, 0.4)


def test_raise_once_with_calming_script_then_no_flapping() -> None:
    # Around the raise threshold (score 0.6 <=> p 0.52): up, slightly down, up again.
    outs = run([0.1, 0.6, 0.45, 0.6, 0.45, 0.6])
    raised = [anger(o) for o in outs]
    assert raised[1] and raised[1][0].level is AlertLevel.WARNING
    assert all(r == [] for i, r in enumerate(raised) if i != 1)
    scripts = [e for o in outs for e in o if isinstance(e, KnowledgeSuggestion)]
    assert [s.entry_id for s in scripts] == ["calming.anger"]
    assert scripts[0].trigger_utterance_id == "u1" and scripts[0].answer


def test_escalates_once_and_clears_with_info() -> None:
    outs = run([0.6, 0.95, 0.95, 0.3, 0.1, 0.1])
    levels = [[a.level for a in anger(o)] for o in outs]
    # 0.3 calibrates to 0.375, below clear_at 0.4: cleared once, with an INFO alert.
    assert levels == [[AlertLevel.WARNING], [AlertLevel.CRITICAL], [], [AlertLevel.INFO], [], []]


def test_smoothing_needs_more_than_one_spike() -> None:
    smooth = EmotionSettings(
        smoothing=0.5, release=0.5, text_weight=1.0, text_thresholds={"angry": 0.4}
    )
    outs = run([0.1, 0.1, 0.7, 0.1], smooth)
    assert all(anger(o) == [] for o in outs)
    outs = run([0.1, 0.7, 0.7, 0.7], smooth)
    assert any(anger(o) for o in outs)


def test_voice_alone_never_raises() -> None:
    loud = Prosody(2.0, 0.8, 300.0, 8.0, -5.0, 0, 0.0, 9.0)
    state = EmotionState()
    settings = EmotionSettings(baseline_s=1.0)
    calm = Prosody(2.0, 0.8, 120.0, 3.0, -30.0, 0, 0.0, 4.0)
    state, _ = emotion_step(state, UtteranceEvidence("u0", None, calm), settings)
    for i in range(1, 5):
        state, out = emotion_step(state, UtteranceEvidence(f"u{i}", None, loud), settings)
        assert out == []


def test_voice_tips_borderline_text_and_reason_names_words_and_voice() -> None:
    settings = EmotionSettings(smoothing=1.0, baseline_s=1.0, text_thresholds={"angry": 0.4})
    calm = Prosody(2.0, 0.8, 120.0, 3.0, -30.0, 0, 0.0, 4.0)
    loud = Prosody(2.0, 0.8, 180.0, 7.0, -18.0, 0, 0.0, 6.0)
    # Same borderline text (calibrated 0.56): quiet voice stays below raise_at, loud voice lifts it.
    for prosody, expect in ((calm, False), (loud, True)):
        state, _ = emotion_step(EmotionState(), UtteranceEvidence("u0", text(0.1), calm), settings)
        state, out = emotion_step(state, UtteranceEvidence("u1", text(0.45), prosody), settings)
        assert bool(anger(out)) is expect
    alert = anger(out)[0]
    assert "“太过分”" in alert.reason and "音高" in alert.reason and "音量" in alert.reason


def test_fast_attack_slow_release_one_calm_answer_does_not_clear() -> None:
    """Anger rises with the newest sentence; a short factual answer after it (a number, an
    address) does not clear it; a calm stretch does, once."""
    settings = EmotionSettings(
        smoothing=0.75, release=0.3, text_weight=1.0, text_thresholds={"angry": 0.4}
    )
    outs = run([0.1, 0.1, 0.9, 0.05, 0.05, 0.05, 0.05, 0.05], settings)
    levels = [[a.level for a in anger(o)] for o in outs]
    assert levels[2] == [AlertLevel.WARNING]
    assert levels[3] == []
    assert [lv for lvl in levels[4:] for lv in lvl] == [AlertLevel.INFO]
