"""Real speech through the whole engine: a recorded Mandarin caller over the websocket ingest,
the real speech pipeline (Whisper base), the real extractors and classifiers, and the work order
reaching an agent's screen as ``ticket.field`` events that point at the call's finals.

Slow on a CPU (Whisper base decodes about 20 s of speech): one test.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import numpy as np
import pytest
from shared_data import MANDARIN_SPEECH
from websockets.asyncio.client import connect

from jiesu.engine.audio import Leg
from jiesu.engine.auth import Role
from jiesu.engine.config import AuthConfig, GatewayConfig, IngestConfig, JiesuConfig, StorageConfig
from jiesu.engine.ingest.client import IngestClient, read_wav
from jiesu.engine.runtime import Runtime
from jiesu.engine.storage import open_store

CALLER_CLIP = "higgs_mabaoguo.wav"  # "…原来是昨天，有两个年轻人，三十多岁…"
AGENT_CLIP = "speechio_CCTV_1.wav"
TIMEOUT = 240.0


async def test_real_call_fills_the_work_order_on_the_screen(tmp_path: Path) -> None:
    for name in (CALLER_CLIP, AGENT_CLIP):
        if not (MANDARIN_SPEECH / name).is_file():
            pytest.skip(f"needs the shared Mandarin recordings in {MANDARIN_SPEECH}")
    caller, rate = read_wav(MANDARIN_SPEECH / CALLER_CLIP)
    agent_speech, rate2 = read_wav(MANDARIN_SPEECH / AGENT_CLIP)
    assert rate == rate2 == 16000
    # The agent greets first (after 1 s), then listens while the caller talks.
    n = len(agent_speech) + len(caller) + 3 * rate
    agent = np.zeros(n, dtype=np.int16)
    agent[rate : rate + len(agent_speech)] = agent_speech
    caller_leg = np.zeros(n, dtype=np.int16)
    begin = len(agent_speech) + 2 * rate
    caller_leg[begin : begin + len(caller)] = caller

    config = JiesuConfig(
        gateway=GatewayConfig(port=0),
        ingest=IngestConfig(port=0),
        auth=AuthConfig(token_secret_file=tmp_path / "secret"),
        storage=StorageConfig(event_log=tmp_path / "events.sqlite3"),
    )
    runtime = Runtime(config)
    await runtime.start()
    try:
        assert runtime.assist is not None, "the assist stages did not load (see the log)"
        token = runtime.signer.mint("agent-1", Role.AGENT, "12345", 600, time.time())
        ingest_token = runtime.signer.mint("pbx", Role.INGEST, "12345", 600, time.time())
        async with (
            connect(f"ws://127.0.0.1:{runtime.gateway.port}/screen", proxy=None) as screen,
            IngestClient(f"ws://127.0.0.1:{runtime.ingest.port}/", ingest_token) as client,
        ):
            await screen.send(json.dumps({"type": "hello", "protocol": 1, "token": token}))
            await client.start_call(
                "real-1",
                codec="pcma",
                legs=(Leg.CALLER, Leg.AGENT),
                agent_id="agent-1",
                caller_number="13812345678",
            )
            await screen.send(json.dumps({"type": "follow", "call_id": "real-1"}))
            await client.stop_call("real-1")  # opened only to follow it; stream it again:
            stats = await client.stream_call(
                "real-2",
                {Leg.CALLER: caller_leg, Leg.AGENT: agent},
                rate,
                codec="pcma",
                agent_id="agent-1",
                caller_number="13812345678",
                stop=False,
            )
            assert stats is None
            await screen.send(json.dumps({"type": "follow", "call_id": "real-2"}))
            await client.stop_call("real-2", timeout_s=TIMEOUT)
            seen: list[dict[str, object]] = []
            async with asyncio.timeout(TIMEOUT):
                while not any(
                    m.get("type") == "call.ended" and m.get("call_id") == "real-2" for m in seen
                ):
                    seen.append(json.loads(await screen.recv()))
                # The last final's fields are filled after the call ended (wrap-up): wait
                # for the stage, then read the stream up to the log's last event.
                await runtime.assist.idle()
                last = (await runtime.event_log.read("real-2"))[-1].seq
                while seen[-1].get("call_id") != "real-2" or int(seen[-1]["seq"]) < last:  # type: ignore[call-overload]
                    seen.append(json.loads(await screen.recv()))
        events = [m for m in seen if m.get("call_id") == "real-2"]
        finals = {
            m["payload"]["utterance_id"]: m["payload"]  # type: ignore[index]
            for m in events
            if m["type"] == "transcript.final"
        }
        fields = [m["payload"] for m in events if m["type"] == "ticket.field"]
        profile = [m["payload"] for m in events if m["type"] == "caller.profile"]
        print("finals:", [f["text"] for f in finals.values()])  # type: ignore[index]
        print("fields:", [(f["field"], f["value"]) for f in fields])  # type: ignore[index]
        assert any(f["leg"] == "caller" for f in finals.values()), "no caller final"  # type: ignore[index]
        assert profile and profile[0]["caller_masked"] == "138****5678"  # type: ignore[index]
        # The first call from this number was "real-1": the second call sees it in the history.
        assert profile[0]["ticket_count"] == 1  # type: ignore[index]
        names = {f["field"] for f in fields}  # type: ignore[index]
        assert {"summary", "category", "department", "request_type"} <= names, names
        for f in fields:
            source = f["source"]  # type: ignore[index]
            if source is not None:
                assert source["utterance_id"] in finals, source  # type: ignore[index]
        summary = [f["value"] for f in fields if f["field"] == "summary"][-1]  # type: ignore[index]
        assert summary.startswith("市民")  # type: ignore[union-attr]
        store = open_store(sqlite_path=str(tmp_path / "tickets.sqlite3"))
        ticket = store.ticket_for_call("real-2")
        assert ticket is not None and ticket.fields["summary"] == summary
        assert len(store.transcript("real-2")) == len(finals)
        store.close()
    finally:
        await runtime.close()
