"""sip_config/alerts.toml: the shipped file loads; mistakes name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from jiesu.engine.alerts.config import load_alerts
from jiesu.engine.alerts.risk import find_risks
from jiesu.engine.config import ConfigError


def test_shipped_file_loads_and_feeds_the_cores() -> None:
    config = load_alerts()
    assert "不归我们管" in config.coach.forbidden_phrases
    assert config.risk_rules().targets["fire"] == config.risk.targets.fire
    settings = config.emotion_settings({"angry": 0.3})
    assert settings.text_thresholds == {"angry": 0.3}
    assert settings.calming["anger"] == config.calming.anger


def test_extra_words_and_targets_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(
        '[risk]\npassing = ["火神庙"]\n[risk.targets]\nfire = "119-center"\n'
        '[risk.extra_triggers]\nfire = ["走水"]\n',
        encoding="utf-8",
    )
    rules = load_alerts(path).risk_rules()
    assert [h.kind for h in find_risks("后院走水了", rules)] == ["fire"]
    assert rules.targets["fire"] == "119-center" and rules.targets["medical"] == "120"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[coach]\ndead_air = 5\n", "coach.dead_air: unknown key"),
        ("[coach]\ndead_air_s = 0.1\n", "coach.dead_air_s: expected a number 1-600"),
        ("[coach]\nforbidden_phrases = [1]\n", "coach.forbidden_phrases: expected a list"),
        ("[emotion]\nraise_at = 0.3\nclear_at = 0.5\n", "clear_at < raise_at"),
        ("[risk.targets]\nfire = 119\n", "risk.targets.fire: expected a non-empty string"),
        ("[coach\n", "not valid TOML"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=str(path)) as info:
        load_alerts(path)
    assert message in str(info.value)
