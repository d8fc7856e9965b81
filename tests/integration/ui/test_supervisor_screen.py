"""The supervisor screen in a real browser: every live call of the hotline on the board, sorted
by need of attention, counters, and following one call's transcript and order."""

from __future__ import annotations

from typing import Any

from jiesu.engine.audio import Leg
from jiesu.engine.auth import Role
from jiesu.engine.events import (
    AlertLevel,
    CallMode,
    EmotionAlert,
    FieldOrigin,
    RiskAlert,
    TicketField,
    TranscriptFinal,
    TranscriptPartial,
)


async def test_supervisor_board_counters_and_follow(engine: Any, browser: Any) -> None:
    async with (
        engine.placed_call("c-calm", "agent-1", "13900001111"),
        engine.placed_call("c-angry", "agent-2", "13900002222"),
        engine.placed_call("c-night", "robot", "13900003333", CallMode.AFTER_HOURS),
    ):
        # History written before the supervisor looks: it must come with the follow.
        await engine.emit(
            "c-angry",
            TranscriptFinal(Leg.CALLER, "a1", "你们到底管不管？我都打了三次了！", 0, 3000),
        )
        await engine.emit(
            "c-angry", TicketField("request_type", "投诉", 0.9, FieldOrigin.AUTO, False)
        )
        page, problems = await engine.open_page(
            browser, f"/supervisor#token={engine.token('lead-1', Role.SUPERVISOR)}"
        )
        await page.wait_for_selector('#link-state[data-state="open"]')
        await page.wait_for_function("() => document.querySelectorAll('#board tr').length === 3")
        assert await page.text_content("#count-talking") == "2"
        assert await page.text_content("#count-waiting") == "0"
        assert await page.text_content("#count-auto") == "1"

        # Alerts arrive on the board without following; the angry call moves to the top.
        await engine.emit(
            "c-angry", EmotionAlert(Leg.CALLER, AlertLevel.WARNING, "angry", 0.8, "音量升高")
        )
        await engine.emit(
            "c-angry", RiskAlert("repeat_caller", AlertLevel.CRITICAL, "30天内第3次来电", "")
        )
        await page.wait_for_function(
            "() => document.querySelector('#board tr').dataset.call === 'c-angry'"
            " && document.querySelector('#board tr').dataset.level === 'critical'"
        )
        assert await page.text_content("#count-alerts") == "2"
        assert await page.locator('#board tr[data-call="c-angry"] .trend .dot').count() == 1
        assert "agent-2" in await page.text_content('#board tr[data-call="c-angry"]')

        # Follow: history first, then live lines and fields.
        await page.click('#board tr[data-call="c-angry"]')
        await page.wait_for_selector('.line.final[data-utt="a1"]')
        assert await page.input_value("#field-request_type") == "投诉"
        assert await page.locator("#field-request_type").evaluate("n => n.readOnly")
        await engine.emit("c-angry", TranscriptPartial(Leg.AGENT, "a2", "非常抱歉", 3500, 4200, 2))
        await page.wait_for_selector('.line.partial.leg-agent[data-utt="a2"]')
        await engine.emit(
            "c-angry", TranscriptFinal(Leg.AGENT, "a2", "非常抱歉，我马上为您催办。", 3500, 6000)
        )
        await page.wait_for_selector('.line.final[data-utt="a2"]')
        # The other call's lines never show in the followed view.
        await engine.emit(
            "c-calm", TranscriptFinal(Leg.CALLER, "b1", "我想咨询公积金提取。", 0, 2000)
        )
        await engine.emit(
            "c-angry", TranscriptFinal(Leg.CALLER, "a3", "好，我等你们消息。", 6500, 8000)
        )
        await page.wait_for_selector('.line[data-utt="a3"]')
        assert await page.locator('.line[data-utt="b1"]').count() == 0
        assert await page.locator(".follow-alerts .alert-line").count() == 2
        await engine.shot(page, "supervisor-follow")

        # Switch to the other call: its history (b1) arrives.
        await page.click('#board tr[data-call="c-calm"]')
        await page.wait_for_selector('.line[data-utt="b1"]')
        assert await page.locator('.line[data-utt="a1"]').count() == 0

        # Leaving the block hangs both calls up through the ingest: they leave the board.
    await page.wait_for_function("() => document.querySelectorAll('#board tr').length === 0")
    assert await page.text_content("#count-talking") == "0"
    assert await page.is_visible("#board-empty")
    unexpected = [p for p in problems if "WebSocket" not in p]
    assert unexpected == [], unexpected
