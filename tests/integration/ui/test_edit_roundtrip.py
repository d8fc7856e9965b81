"""An agent's edit in the browser goes to the real engine (ticket.edit), which locks the field
and answers with the agent's value on the call's stream (ticket.field, origin agent)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jiesu.engine.events import Event, FieldOrigin, TicketField

CALL = "c-edit-1"


@pytest.mark.parametrize("engine", [{"assist": True}], indirect=True)
async def test_edit_is_locked_by_the_engine(
    caplog: pytest.LogCaptureFixture, engine: Any, browser: Any
) -> None:
    if engine.runtime.assist is None:
        records = caplog.get_records("setup")
        why = [r.getMessage() for r in records if "assist disabled" in r.getMessage()]
        pytest.skip(f"the assist stages did not load in this checkout: {why}")
    async with engine.placed_call(CALL, "agent-7"):
        page, problems = await engine.open_page(browser, f"/agent#token={engine.token('agent-7')}")
        await page.wait_for_selector(f'body[data-call="{CALL}"]')
        assert (
            await page.evaluate("() => window.jiesu.protocol.actionType('edit')") == "ticket.edit"
        )
        answered: asyncio.Future[TicketField] = asyncio.get_running_loop().create_future()

        def listen(event: Event) -> None:
            payload = event.payload
            wanted = isinstance(payload, TicketField) and payload.field == "caller_name"
            if wanted and not answered.done():
                answered.set_result(payload)

        unsubscribe = engine.runtime.event_log.subscribe(listen)
        try:
            await page.fill("#field-caller_name", "王先生")
            await page.press("#field-caller_name", "Tab")
            # The engine's answer is durable in the log before the page can see it.
            field = await asyncio.wait_for(answered, 15)
        finally:
            unsubscribe()
        assert field.origin is FieldOrigin.AGENT and field.locked
        assert field.value == "王先生"
        await page.wait_for_selector('.field[data-field="caller_name"][data-locked="true"]')
        errors = await page.evaluate("() => window.jiesu.link.stats.errors")
        assert errors == {}, errors
        assert [p for p in problems if "WebSocket" not in p] == []
