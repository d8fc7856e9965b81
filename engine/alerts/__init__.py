"""Alerts for the agent and supervisor: caller emotion, risk (emergencies), live coaching.

Pure cores of the shape ``(state, input) -> (state, [events])``:
:func:`~jiesu.engine.alerts.emotion.emotion_step` (text emotion fused with prosody, hysteresis),
:func:`~jiesu.engine.alerts.risk.risk_step` (urgent risk alerts with 110/119/120) and
:func:`~jiesu.engine.alerts.coach.coach_step` (rate-limited coaching tips on the agent leg).
Settings come from ``sip_config/alerts.toml`` (:mod:`~jiesu.engine.alerts.config`).
"""
