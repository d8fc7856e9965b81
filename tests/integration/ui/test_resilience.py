"""The screens through the rough parts: a burst that overflows the gateway's queue for the
screen (resync, 4408), a token that expires while connected, a call that ends and the next."""

from __future__ import annotations

from typing import Any

import pytest

from jiesu.engine.audio import Leg
from jiesu.engine.events import TranscriptFinal

AGENT = "agent-7"


@pytest.mark.parametrize("engine", [{"screen_queue_limit": 8}], indirect=True)
async def test_burst_past_the_screen_queue_resyncs_and_resumes(engine: Any, browser: Any) -> None:
    call = "c-burst"
    async with engine.placed_call(call, AGENT):
        page, problems = await engine.open_page(browser, f"/agent#token={engine.token(AGENT)}")
        await page.wait_for_selector(f'body[data-call="{call}"]')
        await page.wait_for_function(f"() => window.jiesu.link.lastSeq('{call}') >= 2")
        # 300 finals committed at once: far past the 8 messages the screen may have queued.
        burst = [
            (
                i * 100,
                TranscriptFinal(
                    Leg.CALLER if i % 2 else Leg.AGENT, f"b{i}", f"第{i}句", i * 100, i * 100 + 90
                ),
            )
            for i in range(300)
        ]
        await engine.runtime.event_log.append_many(call, burst)
        await page.wait_for_selector('.line[data-utt="b299"]')
        texts = await page.locator(".line .text").all_text_contents()
        assert texts == [f"第{i}句" for i in range(300)]
        logged = [e.seq for e in await engine.runtime.event_log.read(call)]
        delivered = await page.evaluate(f"() => window.jiesu.link.stats.delivered['{call}']")
        assert delivered == logged
        assert engine.runtime.metrics.value("gateway_resyncs_total") >= 1
        assert await page.evaluate("() => window.jiesu.link.stats.reconnects") >= 1
        await page.wait_for_selector('#link-state[data-state="open"]')
        assert [p for p in problems if "WebSocket" not in p] == []


async def test_token_expiring_while_connected_asks_for_a_new_one(engine: Any, browser: Any) -> None:
    # 5 s: long enough to connect on a busy machine; the gateway closes the screen at expiry.
    page, _ = await engine.open_page(browser, f"/agent#token={engine.token(AGENT, ttl_s=5)}")
    await page.wait_for_selector('#link-state[data-state="open"]')
    problem = page.locator(".signin-problem")
    await problem.wait_for()
    assert "令牌已过期" in await problem.text_content()
    await page.fill("#token-input", engine.token(AGENT))
    await page.click("#signin-button")
    await page.wait_for_selector('#link-state[data-state="open"]')


async def test_ended_call_stays_until_the_next_call_replaces_it(engine: Any, browser: Any) -> None:
    page, problems = await engine.open_page(browser, f"/agent#token={engine.token(AGENT)}")
    await page.wait_for_selector('#link-state[data-state="open"]')
    assert await page.text_content("#call-caller") == "等待来电"
    async with engine.placed_call("c-first", AGENT):
        await page.wait_for_selector('body[data-call="c-first"]')
        await engine.emit("c-first", TranscriptFinal(Leg.CALLER, "f1", "第一通电话。", 0, 1000))
        await page.wait_for_selector('.line[data-utt="f1"]')
    await page.wait_for_selector('#call-state[data-state="ended"]')
    assert await page.text_content("#call-state") == "已结束"
    frozen = await page.text_content("#call-timer")
    assert await page.locator('.line[data-utt="f1"]').count() == 1  # still there for wrap-up
    async with engine.placed_call("c-second", AGENT):
        await page.wait_for_selector('body[data-call="c-second"]')
        await engine.emit("c-second", TranscriptFinal(Leg.CALLER, "s1", "第二通电话。", 0, 1000))
        await page.wait_for_selector('.line[data-utt="s1"]')
        assert await page.locator('.line[data-utt="f1"]').count() == 0
        assert await page.text_content("#call-state") == "通话中"
    assert frozen is not None and frozen.count(":") == 1
    assert [p for p in problems if "WebSocket" not in p] == []
