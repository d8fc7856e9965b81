"""Post-call QA and summary on the supervisor screen, in a real browser: a followed call hangs up
through the real ingest; the engine's post-call service scores and summarises it, stores both,
and the page shows the score, the failed items with their evidence lines, and the summary. The
ended call stays in the recent list and can be followed again for review."""

from __future__ import annotations

from typing import Any

import pytest
from postcall_calls import BAD_LINES

from jiesu.engine.audio import Leg
from jiesu.engine.auth import Role
from jiesu.engine.events import AlertLevel, EmotionAlert, TranscriptFinal
from jiesu.engine.runtime import tickets_path
from jiesu.engine.storage import open_store

CALL = "c-postcall-1"


@pytest.mark.parametrize("engine", [{"assist": True}], indirect=True)
async def test_supervisor_sees_qa_and_summary_after_hang_up(
    caplog: pytest.LogCaptureFixture, engine: Any, browser: Any
) -> None:
    runtime = engine.runtime
    if runtime.assist is None or runtime.postcall is None:
        records = caplog.get_records("setup")
        why = [r.getMessage() for r in records if "disabled" in r.getMessage()]
        pytest.skip(f"the assist stages or the post-call service did not load: {why}")
    page, problems = await engine.open_page(
        browser, f"/supervisor#token={engine.token('lead-1', Role.SUPERVISOR)}"
    )
    async with engine.placed_call(CALL, "agent-3", "13900002222"):
        await page.wait_for_selector(f'#board tr[data-call="{CALL}"]')
        await page.click(f'#board tr[data-call="{CALL}"]')
        for n, line in enumerate(BAD_LINES):
            final = TranscriptFinal(line.leg, f"{CALL}-u{n}", line.text, line.t_start, line.t_end)
            await engine.emit(CALL, final, line.t_end)
            if n == 1:
                alert = EmotionAlert(Leg.CALLER, AlertLevel.CRITICAL, "angry", 0.9, "措辞激烈")
                await engine.emit(CALL, alert, line.t_end)
        await page.wait_for_selector(f'.line.final[data-utt="{CALL}-u7"]')
    # Hung up: the result arrives on the followed view.
    await page.wait_for_selector("#postcall:not([hidden]) #qa-score")
    await runtime.postcall.idle()  # a rescoring, if the order was still filling, is in too
    store = open_store(sqlite_path=str(tickets_path(runtime.config.storage)))
    try:
        qa, summary = store.qa_for_call(CALL), store.summary_for_call(CALL)
    finally:
        store.close()
    assert qa is not None and summary is not None, "QA and summary must be stored"
    await page.wait_for_function(
        "s => document.querySelector('#qa-score').textContent === s", arg=f"{qa.score:.1f}"
    )
    assert await page.text_content("#qa-verdict") == ("合格" if qa.passed else "不合格")
    assert not qa.passed
    failed = [i for i in qa.items if i.applicable and not i.passed]
    shown = await page.eval_on_selector_all(
        "#qa-failed .qa-item", "ns => ns.map(n => n.dataset.item)"
    )
    assert shown == [i.item_id for i in failed]
    assert "forbidden" in shown and "greeting" in shown
    forbidden = page.locator('#qa-failed .qa-item[data-item="forbidden"]')
    assert "服务禁语" in await forbidden.text_content()
    evidence = await forbidden.locator(".evidence-line .said").all_text_contents()
    assert evidence == ["这个不归我们管，你找物业去。"]
    assert await forbidden.locator(".evidence-line.leg-agent").count() == 1
    request = await page.text_content("#call-summary .summary-request")
    assert summary.request in request and "楼上漏水" in request
    assert summary.handling in await page.text_content("#call-summary .summary-handling")
    await engine.shot(page, "postcall-followed")

    # Reviewed later: stop following, pick the call from the recent list, history replays.
    await page.click("#unfollow")
    assert await page.locator("#postcall").is_hidden()
    await page.click(f'#recent .recent-call[data-call="{CALL}"]')
    await page.wait_for_function(
        "s => document.querySelector('#qa-score')?.textContent === s", arg=f"{qa.score:.1f}"
    )
    assert await page.locator("#qa-failed .qa-item").count() == len(failed)
    await engine.shot(page, "postcall-review")
    assert problems == [], problems
