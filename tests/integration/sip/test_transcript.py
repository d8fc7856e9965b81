"""The core path end to end: sipp calls ``jiesu``'s runtime over SIP and streams a real Mandarin
recording as G.711; the worker taps the caller's leg, the production router feeds the real
speech pipeline, and the transcript reaches a supervisor's screen over the websocket gateway.
BYE ends the call; the tapped frame count matches the streamed duration."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import sip_config  # type: ignore[import-not-found]
from shared_data import MANDARIN_SPEECH
from sipp_peer import free_udp_port, run_sipp, uac_scenario, wait_udp_bound
from websockets.asyncio.client import connect

from jiesu.bench.cer import char_errors
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
from jiesu.engine.events import TranscriptFinal
from jiesu.engine.runtime import Runtime
from jiesu.engine.speech.textnorm import normalize_for_scoring

CLIP = "firered_BAC009S0764W0121.wav"


def reference(name: str) -> str:
    for line in (MANDARIN_SPEECH / "trans.tsv").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if parts[0] == name:
            return parts[1]
    raise KeyError(name)


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    if not (MANDARIN_SPEECH / CLIP).is_file():
        pytest.skip(f"needs the shared Mandarin recordings in {MANDARIN_SPEECH}")
    config = JiesuConfig(
        gateway=GatewayConfig(port=0),
        ingest=IngestConfig(port=0),
        auth=AuthConfig(token_secret_file=tmp_path / "secret"),
        storage=StorageConfig(event_log=tmp_path / "events.sqlite3"),
        assist=AssistConfig(enabled=False),
        sip=sip_config(),
        voice=VoiceConfig(enabled=False),  # the IVR numbers of sip_config() are not called
        # Finals in the 30 s window, as plain faster-whisper decodes: in fitted windows Whisper
        # base reads this G.711 sentence differently with every 20 ms shift of the utterance's
        # end (RTP timing), from the whole sentence to a third of it (docs/speech.md); in the
        # 30 s window it read 11-13 of its 13 characters at every shift. The fitted windows'
        # accuracy is measured by `jiesu bench asr-accuracy`, not here.
        speech=SpeechConfig(final_min_window_s=30.0),
    )
    rt = Runtime(config)
    await rt.start()
    try:
        yield rt
    finally:
        await rt.close()


async def test_sipp_speech_reaches_a_screen_as_transcript(
    runtime: Runtime, speech_pcap: Any, tmp_path: Path
) -> None:
    assert runtime.sip is not None
    pcap, packets, _ = speech_pcap(CLIP, "pcma")
    talk_ms = packets * 20 + 1500  # the clip, then 1.5 s of line silence before the BYE
    token = runtime.signer.mint("lead-1", Role.SUPERVISOR, "12345", 600, time.time())
    async with connect(f"ws://127.0.0.1:{runtime.gateway.port}/") as screen:
        await screen.send(json.dumps({"type": "hello", "protocol": 1, "token": token}))
        welcome = json.loads(await asyncio.wait_for(screen.recv(), 10))
        assert welcome["type"] == "welcome"
        result = await run_sipp(
            uac_scenario(pcap, talk_ms, codec="PCMA"),
            tmp_path,
            f"127.0.0.1:{runtime.sip.ports[0]}",
            service="40001",
            sip_port=free_udp_port(),
            media_port=free_udp_port(4),
        )
        assert result.rc == 0, result.output[-3000:]
        by_seq: dict[int, dict[str, Any]] = {}
        asked = accepted = ended = False
        # The board may show call.ended before the follow is accepted (then the follow replays
        # the whole call, call.ended last): only a call.ended after "following" ends the call.
        while not ended:
            message = json.loads(await asyncio.wait_for(screen.recv(), 60))
            if message.get("type") == "following":
                accepted = True
            if "call_id" not in message or "seq" not in message:
                continue
            by_seq[message["seq"]] = message
            ended = accepted and message["type"] == "call.ended"
            if not asked:
                # The board shows the call; its transcript comes to screens that follow it.
                asked = True
                follow = {"type": "follow", "call_id": message["call_id"], "after_seq": 0}
                await screen.send(json.dumps(follow))
    seen = [by_seq[k] for k in sorted(by_seq)]
    types = [m["type"] for m in seen]
    assert types[0] == "call.started" and types[-1] == "call.ended"
    assert seen[0]["payload"]["caller_masked"] == "138****5678"
    # Partials coalesce on the way to a screen (latest wins); finals never drop.
    transcript = [m["payload"] for m in seen if m["type"].startswith("transcript.")]
    info = runtime.sip.last_leg_info[seen[0]["call_id"]]["caller"]
    asr = {k: v for k, v in runtime.metrics.snapshot().items() if "asr" in k or "audio" in k}
    assert any(m["type"] == "transcript.final" for m in seen), (
        [m["type"] for m in seen],
        info,
        asr,
    )
    assert all(t["leg"] == "caller" for t in transcript)
    ref = normalize_for_scoring(reference(CLIP))
    finals = "".join(m["payload"]["text"] for m in seen if m["type"] == "transcript.final")
    final_cer = char_errors(ref, normalize_for_scoring(finals)).cer
    print(f"SIP finals {finals!r}: CER {final_cer:.3f}")
    # Accuracy is the speech core's benchmark; here: the whole utterance was heard and decoded
    # into the final (a final cut short after its first words fails this, whatever partials
    # showed on the way).
    assert final_cer <= 0.35
    assert seen[-1]["payload"]["reason"] == "caller_hangup"
    print(f"frames tapped {info['frames']} for {talk_ms} ms; RTP {info['rtp_packets']}/{packets}")
    assert abs(info["frames"] - talk_ms / 20) <= 2
    assert info["rtp_packets"] == packets and info["rtp_lost"] == 0 and info["dropped"] == 0


async def test_assist_call_transcribes_caller_and_agent_apart(
    speech_pcap: Any, tmp_path: Path
) -> None:
    """B2BUA through the production runtime: each leg's speech is transcribed on its own leg."""
    from sipp_peer import uas_scenario

    caller_clip, agent_clip = CLIP, "speechio_CCTV_1.wav"
    caller_pcap, caller_packets, _ = speech_pcap(caller_clip, "pcmu")
    agent_pcap, _, _ = speech_pcap(agent_clip, "pcmu")
    agent_port = free_udp_port()
    config = JiesuConfig(
        gateway=GatewayConfig(port=0),
        ingest=IngestConfig(port=0),
        auth=AuthConfig(token_secret_file=tmp_path / "secret"),
        storage=StorageConfig(event_log=tmp_path / "events.sqlite3"),
        assist=AssistConfig(enabled=False),
        sip=sip_config(routing={"agent_uri": f"sip:agent-7@127.0.0.1:{agent_port}"}),
        voice=VoiceConfig(enabled=False),
    )
    runtime = Runtime(config)
    await runtime.start()
    try:
        assert runtime.sip is not None
        agent = asyncio.create_task(
            run_sipp(
                uas_scenario(agent_pcap),
                tmp_path,
                None,
                name="agent",
                sip_port=agent_port,
                media_port=free_udp_port(4),
                timeout_s=40,
            )
        )
        await wait_udp_bound(agent_port)  # the agent's phone listens first
        caller = await run_sipp(
            uac_scenario(caller_pcap, caller_packets * 20 + 1500),
            tmp_path,
            f"127.0.0.1:{runtime.sip.ports[0]}",
            service="12345",
            sip_port=free_udp_port(),
            media_port=free_udp_port(4),
        )
        agent_result = await agent
        assert caller.rc == 0, caller.output[-3000:]
        assert agent_result.rc == 0, agent_result.output[-3000:]
        await runtime.sip.wait_ended(1)
        started = runtime.sip.last_leg_info
        assert len(started) == 1
        call_id = next(iter(started))
        events = await runtime.event_log.read(call_id)
    finally:
        await runtime.close()
    finals = [e.payload for e in events if isinstance(e.payload, TranscriptFinal)]
    by_leg: dict[str, str] = {}
    for final in finals:
        by_leg[final.leg.value] = by_leg.get(final.leg.value, "") + final.text
    print(f"assist finals by leg: {by_leg}")
    assert set(by_leg) == {"caller", "agent"}, by_leg
    for leg, clip in (("caller", caller_clip), ("agent", agent_clip)):
        ref = normalize_for_scoring(reference(clip))
        own = char_errors(ref, normalize_for_scoring(by_leg[leg])).cer
        assert own <= 0.5, f"{leg}: {by_leg[leg]!r} vs {reference(clip)!r}"
