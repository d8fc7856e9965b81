"""The demo end to end: the runtime of ``jiesu demo`` (SIP door on, real Whisper, real assist
stages), the demo call placed by a sipp caller and a sipp agent phone through the B2BUA, and an
agent screen (websocket client with the demo agent's token) that must receive both parties'
finals, filled work-order fields, a knowledge card and the call's end. Takes the call's length
(86 s) plus model loading."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from jiesu.engine.auth import Role
from jiesu.engine.config import (
    AuthConfig,
    GatewayConfig,
    IngestConfig,
    JiesuConfig,
    SipConfig,
    StorageConfig,
)
from jiesu.engine.demo import DEMO_DIR, demo_config, free_udp_port, load_demo_call, place_demo_call
from jiesu.engine.runtime import Runtime
from jiesu.engine.sip import sipp

pytest.importorskip("pjsua2", reason="pjsua2-python is not installed")
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[tuple[Runtime, int]]:
    if sipp.SIPP is None:
        pytest.skip(
            "sipp is not installed (Debian package sip-tester; ./jiesu.sh test installs it)"
        )
    agent_port = free_udp_port()
    base = JiesuConfig(
        gateway=GatewayConfig(port=0),
        ingest=IngestConfig(port=0),
        auth=AuthConfig(token_secret_file=tmp_path / "secret"),
        storage=StorageConfig(
            event_log=tmp_path / "events.sqlite3", caller_key_secret_file=tmp_path / "caller"
        ),
        sip=SipConfig(sip_port=0, rtp_port_start=sipp.free_udp_port(64), rtp_ports_per_worker=16),
    )
    rt = Runtime(demo_config(base, "agent-demo", agent_port))
    await rt.start()
    try:
        yield rt, agent_port
    finally:
        await rt.close()


async def test_demo_call_over_sip_fills_the_agent_screen(
    runtime: tuple[Runtime, int], tmp_path: Path
) -> None:
    rt, agent_port = runtime
    assert rt.sip is not None
    call = load_demo_call(ROOT / DEMO_DIR)
    token = rt.signer.mint(call.agent_id, Role.AGENT, "12345", 600, time.time())
    seen: list[dict[str, Any]] = []
    async with connect(f"ws://127.0.0.1:{rt.gateway.port}/") as screen:
        await screen.send(json.dumps({"type": "hello", "protocol": 1, "token": token}))
        assert json.loads(await asyncio.wait_for(screen.recv(), 10))["type"] == "welcome"
        placing = asyncio.create_task(place_demo_call(call, rt.sip.ports[0], agent_port, tmp_path))
        following = False
        while not seen or seen[-1]["type"] != "call.ended":
            message = json.loads(await asyncio.wait_for(screen.recv(), 120))
            if "call_id" not in message or "seq" not in message:
                continue
            if not following:
                following = True
                follow = {"type": "follow", "call_id": message["call_id"], "after_seq": 0}
                await screen.send(json.dumps(follow))
            if not seen or message["seq"] > seen[-1]["seq"]:
                seen.append(message)
        await placing
    types = [m["type"] for m in seen]
    started = seen[0]["payload"]
    assert types[0] == "call.started" and started["agent_id"] == "agent-demo"
    assert started["caller_masked"] == "139****8765"
    finals = [m["payload"] for m in seen if m["type"] == "transcript.final"]
    legs = {f["leg"] for f in finals}
    print("finals:", [(f["leg"], f["text"]) for f in finals])
    assert legs == {"caller", "agent"}
    assert len(finals) >= 10, "most of the 17 turns were heard"
    fields = {
        m["payload"]["field"]: m["payload"]["value"] for m in seen if m["type"] == "ticket.field"
    }
    print("fields:", fields)
    assert "张" in str(fields.get("caller_name", ""))
    assert "杭州" in str(fields.get("address", ""))
    assert "kb.suggestion" in types
    assert seen[-1]["payload"]["reason"] == "caller_hangup"
