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


@pytest.mark.parametrize("engine", [{"assist": True}], indirect=True)
async def test_submit_and_dispatch_are_stored_and_confirmed(
    caplog: pytest.LogCaptureFixture, engine: Any, browser: Any
) -> None:
    """Alt+S and the 派单 button reach the engine (ticket.submit / ticket.dispatch); the ticket
    is stored with the status and the page shows the engine's ticket.status, ticket id included."""
    if engine.runtime.assist is None:
        records = caplog.get_records("setup")
        why = [r.getMessage() for r in records if "assist disabled" in r.getMessage()]
        pytest.skip(f"the assist stages did not load in this checkout: {why}")
    call = "c-dispatch-1"
    department = "市生态环境局"
    async with engine.placed_call(call, "agent-7"):
        page, problems = await engine.open_page(browser, f"/agent#token={engine.token('agent-7')}")
        await page.wait_for_selector(f'body[data-call="{call}"]')
        kinds = await page.evaluate(
            "() => ['submit', 'dispatch'].map((a) => window.jiesu.protocol.actionType(a))"
        )
        assert kinds == ["ticket.submit", "ticket.dispatch"]
        await page.keyboard.press("Alt+s")
        await page.wait_for_selector('#order-state[data-status="submitted"]')
        # The department as the agent types it, then dispatched to it.
        await page.fill("#field-department", department)
        await page.press("#field-department", "Tab")
        await page.wait_for_selector(
            f'#dispatch-dept option[value="{department}"]', state="attached"
        )
        await page.select_option("#dispatch-dept", department)
        await page.click("#dispatch-order")
        await page.wait_for_selector('#order-state[data-status="dispatched"]')
        shown = await page.inner_text("#order-state")
        await engine.shot(page, "agent-dispatched")
        errors = await page.evaluate("() => window.jiesu.link.stats.errors")
    store = engine.runtime.assist._threads.store
    record = store.ticket_for_call(call)
    assert record is not None
    assert (record.status, record.outcome) == ("dispatched", department)
    assert record.fields.get("department") == department
    assert department in shown and record.ticket_id in shown, shown
    events = await engine.runtime.event_log.read(call)
    statuses = [(e.payload.status, e.payload.by) for e in events if e.type == "ticket.status"]
    assert statuses == [("submitted", "agent-7"), ("dispatched", "agent-7")]
    assert errors == {}, errors
    assert [p for p in problems if "WebSocket" not in p] == []
