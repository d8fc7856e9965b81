"""``sip_config/alerts.toml``: forbidden phrases, thresholds, transfer targets, calming scripts.

Validated with the engine's configuration rules (:mod:`jiesu.engine.config`): an unknown key,
a wrong type or a value out of range is a :class:`~jiesu.engine.config.ConfigError` naming the
file and the dotted key. Every key is optional; the defaults are the shipped behaviour.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from jiesu.engine.alerts.coach import CoachSettings
from jiesu.engine.alerts.emotion import DEFAULT_CALMING, EmotionSettings
from jiesu.engine.alerts.risk import DEFAULT_TARGETS, RiskRules
from jiesu.engine.config import ConfigError, _build, read_toml
from jiesu.models.registry import shipped_path


@dataclass(frozen=True, slots=True)
class CalmingScripts:
    """Calming script per alerted emotion, offered to the agent with the alert."""

    anger: str = DEFAULT_CALMING["anger"]
    anxiety: str = DEFAULT_CALMING["anxiety"]
    distress: str = DEFAULT_CALMING["distress"]


@dataclass(frozen=True, slots=True)
class RiskTargets:
    """Emergency number suggested per risk kind."""

    self_harm: str = DEFAULT_TARGETS["self_harm"]
    threat: str = DEFAULT_TARGETS["threat"]
    violence: str = DEFAULT_TARGETS["violence"]
    gas_leak: str = DEFAULT_TARGETS["gas_leak"]
    fire: str = DEFAULT_TARGETS["fire"]
    medical: str = DEFAULT_TARGETS["medical"]
    trapped: str = DEFAULT_TARGETS["trapped"]
    vulnerable_person: str = DEFAULT_TARGETS["vulnerable_person"]


@dataclass(frozen=True, slots=True)
class RiskWords:
    """Extra literal trigger words per risk kind, on top of the built-in rules."""

    self_harm: tuple[str, ...] = ()
    threat: tuple[str, ...] = ()
    violence: tuple[str, ...] = ()
    gas_leak: tuple[str, ...] = ()
    fire: tuple[str, ...] = ()
    medical: tuple[str, ...] = ()
    trapped: tuple[str, ...] = ()
    vulnerable_person: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RiskSection:
    targets: RiskTargets = RiskTargets()
    extra_triggers: RiskWords = RiskWords()
    #: Extra passing mentions that must never fire (local place names with 火, shop names ...).
    passing: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    emotion: EmotionSettings = field(default_factory=EmotionSettings)
    calming: CalmingScripts = CalmingScripts()
    risk: RiskSection = RiskSection()
    coach: CoachSettings = field(default_factory=CoachSettings)

    def emotion_settings(self, text_thresholds: dict[str, float]) -> EmotionSettings:
        """Emotion settings with the calming scripts and the text model's thresholds."""
        calming = dataclasses.asdict(self.calming)
        return dataclasses.replace(self.emotion, calming=calming, text_thresholds=text_thresholds)

    def risk_rules(self) -> RiskRules:
        return RiskRules.with_extra(
            dataclasses.asdict(self.risk.extra_triggers),
            self.risk.passing,
            dataclasses.asdict(self.risk.targets),
        )


def load_alerts(path: Path | None = None) -> AlertsConfig:
    """Read and validate the alerts file (the shipped one by default)."""
    path = path or shipped_path("sip_config", "alerts.toml")
    data = read_toml(path)
    config: AlertsConfig = _build(AlertsConfig, data, path, "")
    s = config.emotion
    if not s.clear_at < s.raise_at <= s.critical_at:
        raise ConfigError(
            f"{path}: emotion: expected clear_at < raise_at <= critical_at, got "
            f"{s.clear_at} / {s.raise_at} / {s.critical_at}"
        )
    return config
