"""The scripted-call replay the benchmarks and the tests share: pacing, ids and the config."""

from __future__ import annotations

from pathlib import Path

from jiesu.bench.replay import offline_config, paced_finals
from jiesu.engine.audio import Leg
from jiesu.engine.config import AssistConfig
from jiesu.engine.events import TranscriptFinal


def test_finals_are_paced_like_speech_with_numbered_ids() -> None:
    finals = paced_finals([["caller", "你好"], ["agent", "请讲"]], "c1-")
    assert finals == [
        TranscriptFinal(Leg.CALLER, "c1-u0", "你好", 0, 500),
        TranscriptFinal(Leg.AGENT, "c1-u1", "请讲", 1000, 1500),
    ]
    assert [f.utterance_id for f in paced_finals([["caller", "喂"]], first=1)] == ["u1"]


def test_offline_config_keeps_everything_in_the_folder(tmp_path: Path) -> None:
    config = offline_config(tmp_path, hotline="96345", assist=AssistConfig(alerts=False))
    assert (config.hotline, config.assist.alerts, config.speech.enabled) == ("96345", False, False)
    assert (config.gateway.port, config.ingest.port) == (0, 0)
    assert config.storage.event_log == tmp_path / "events.sqlite3"
    assert config.storage.tickets == tmp_path / "tickets.sqlite3"
    assert config.auth.token_secret_file == tmp_path / "token.secret"
