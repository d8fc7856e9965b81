"""Helpers for the assist integration tests: open a call through the real ingest, and speak a
final into the call as the speech pipeline does (appended to the event log)."""

from __future__ import annotations

from typing import Any

import numpy as np

from jiesu.engine.audio import Leg
from jiesu.engine.events import TranscriptFinal

CALLER_NUMBER = "13812345678"
AGENT = "agent-7"


async def open_call(engine: Any, call_id: str) -> Any:
    client = await engine.ingest_client()
    silence = {Leg.CALLER: np.zeros(16000, np.int16), Leg.AGENT: np.zeros(16000, np.int16)}
    await client.stream_call(
        call_id,
        silence,
        16000,
        codec="l16",
        rate=16000,
        stop=False,
        agent_id=AGENT,
        caller_number=CALLER_NUMBER,
    )
    return client


async def say(engine: Any, call_id: str, n: int, leg: Leg, text: str) -> int:
    event = await engine.log.append(
        call_id, 1000 * n, TranscriptFinal(leg, f"{call_id}-u{n}", text, 1000 * n - 800, 1000 * n)
    )
    return int(event.seq)
