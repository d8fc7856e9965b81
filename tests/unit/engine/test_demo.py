"""The demo call shipped in sip_config/demo, the demo configuration and the screen links."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from jiesu.engine.auth import TokenSigner, load_or_create_secret
from jiesu.engine.config import JiesuConfig, SpeechConfig
from jiesu.engine.demo import (
    DEMO_DIR,
    DEMO_HOTWORDS,
    DemoError,
    demo_config,
    load_demo_call,
    screen_links,
)
from jiesu.engine.runtime import load_hotwords
from jiesu.engine.speech.hotwords import HotwordCorrector

ROOT = Path(__file__).resolve().parents[3]


def test_shipped_demo_call_has_two_aligned_distinct_legs() -> None:
    call = load_demo_call(ROOT / DEMO_DIR)
    assert call.rate == 8000 and len(call.caller) == len(call.agent)
    assert 60_000 <= call.duration_ms <= 90_000
    turns = json.loads((ROOT / DEMO_DIR / "turns.json").read_text(encoding="utf-8"))["turns"]
    for turn in turns:
        own = call.caller if turn["speaker"] == "caller" else call.agent
        other = call.agent if turn["speaker"] == "caller" else call.caller
        span = slice(turn["start_ms"] * 8, turn["end_ms"] * 8)
        assert abs(own[span].astype(int)).mean() > 100, turn["text"]
        assert not other[span].any(), "the other leg is silent while one party speaks"


def test_missing_demo_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DemoError, match="unreadable"):
        load_demo_call(tmp_path / "absent")


def test_demo_config_turns_sip_on_and_rings_the_demo_agent() -> None:
    config = demo_config(JiesuConfig(), "agent-demo", 40123)
    assert config.sip.enabled
    assert config.sip.routing.agent_uri == "sip:agent-demo@127.0.0.1:40123"


def test_demo_config_uses_the_demo_city_hotwords_unless_the_operator_chose_a_file() -> None:
    assert demo_config(JiesuConfig(), "a", 1).speech.hotwords_file == DEMO_HOTWORDS
    own = JiesuConfig(speech=SpeechConfig(hotwords_file=Path("/etc/jiesu/hotwords.toml")))
    assert demo_config(own, "a", 1).speech.hotwords_file == Path("/etc/jiesu/hotwords.toml")


def test_demo_hotwords_mend_what_whisper_base_heard_of_the_demo_address() -> None:
    # Two readings of the caller's address turn, both heard in demo runs of Whisper base.
    hotwords = load_hotwords(ROOT / DEMO_HOTWORDS)
    corrector = HotwordCorrector(hotwords)
    heard = "航舟市狗树清漠干山路188航阳光小区3床旁边的工地"
    assert corrector.correct(heard).text.startswith("杭州市狗树清莫干山路")
    assert corrector.correct("行舟市拱树区").text == "杭州市拱墅区"
    script = (ROOT / DEMO_DIR / "call_script.toml").read_text(encoding="utf-8")
    assert all(word in script for word in ("杭州市", "拱墅区", "莫干山路"))


def test_screen_links_carry_the_token_in_the_fragment_only(tmp_path: Path) -> None:
    config = JiesuConfig()
    signer = TokenSigner(load_or_create_secret(tmp_path / "secret"))
    links = screen_links(config, signer, 8765, "agent-demo", time.time())
    for name, url in links.items():
        path, _, fragment = url.partition("#")
        assert path.endswith(f"/{name}") and "?" not in path and "token" not in path
        token = fragment.removeprefix("token=")
        assert fragment.startswith("token=") and token
    agent = signer.verify(links["agent"].split("#token=")[1], time.time())
    assert agent.sub == "agent-demo"
