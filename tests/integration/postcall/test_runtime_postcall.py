"""A call through the production runtime ends with its QA and summary stored.

The engine is the real :class:`~jiesu.engine.runtime.Runtime` (event log, gateway, audio ingest,
the assist stages with the shipped extractors and classifiers, the post-call service), speech
models off: the call is opened and hung up through the real audio ingest, and its transcript is
appended to the event log as the speech pipeline appends it. The work order is filled by the real
filler; QA and summary are read back from the ticket database through a second connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from postcall_calls import GOOD_LINES

from jiesu.bench.replay import offline_config, replay_finals
from jiesu.engine.audio import Leg
from jiesu.engine.auth import Role
from jiesu.engine.config import AssistConfig
from jiesu.engine.events import CallSummary, Event, QaResult, TranscriptFinal
from jiesu.engine.ingest.client import IngestClient
from jiesu.engine.runtime import Runtime
from jiesu.engine.storage import open_store


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    # Emotion alerts load the sentence embedder: not needed for this wiring test.
    runtime = Runtime(offline_config(tmp_path, assist=AssistConfig(alerts=False)))
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.close()


async def test_hung_up_call_has_qa_and_summary_stored(runtime: Runtime, tmp_path: Path) -> None:
    assert runtime.postcall is not None, "the post-call service did not start"
    done: asyncio.Future[Event] = asyncio.get_running_loop().create_future()

    def on_event(event: Event) -> None:
        if isinstance(event.payload, CallSummary) and not done.done():
            done.set_result(event)

    unsubscribe = runtime.event_log.subscribe(on_event)
    token = runtime.signer.mint("test-pbx", Role.INGEST, "12345", 600, time.time())
    client = IngestClient(f"ws://127.0.0.1:{runtime.ingest.port}/", token)
    await client.connect()
    try:
        silence = {Leg.CALLER: np.zeros(1600, np.int16), Leg.AGENT: np.zeros(1600, np.int16)}
        await client.stream_call(
            "pc-1",
            silence,
            16000,
            codec="l16",
            rate=16000,
            stop=False,
            agent_id="agent-7",
            caller_number="13812345678",
        )
        assert runtime.assist is not None
        finals = [
            TranscriptFinal(line.leg, f"pc-1-u{n}", line.text, line.t_start, line.t_end)
            for n, line in enumerate(GOOD_LINES)
        ]
        await replay_finals(runtime, "pc-1", finals)
        await client.stop_call("pc-1")
        async with asyncio.timeout(30):
            await done
        # A rescoring (the order finished after the settle time) replaces the first result.
        await runtime.postcall.idle()
    finally:
        unsubscribe()
        await client.close()
    events = await runtime.event_log.read("pc-1")
    types = [e.type for e in events]
    assert types.index("call.ended") < types.index("qa.result") < types.index("call.summary")
    # The real filler's fields were in before scoring (the QA waited for the order to settle).
    ticket_fields = {e.payload.field for e in events if e.type == "ticket.field"}  # type: ignore[union-attr]
    assert {"callback_phone", "request_type"} <= ticket_fields
    store = open_store(sqlite_path=str(tmp_path / "tickets.sqlite3"))
    try:
        qa, summary = store.qa_for_call("pc-1"), store.summary_for_call("pc-1")
    finally:
        store.close()
    announced = [e.payload for e in events if e.type == "call.summary"]
    assert isinstance(qa, QaResult) and summary == announced[-1]
    assert qa == [e.payload for e in events if e.type == "qa.result"][-1]
    items = {i.item_id: i for i in qa.items}
    assert items["greeting"].passed and items["callback"].passed and items["closing"].passed
    assert items["ticket"].score > 0, items["ticket"].reason
    assert "callback_phone" not in items["ticket"].reason
    assert "吵得根本睡不着" in summary.request
    assert summary.request.startswith("投诉")
    assert ("callback_phone", "138****5678") in [(f.name, f.value) for f in summary.fields]
