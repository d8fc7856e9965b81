"""Sign-in in a real browser: a refused token gives a clear message and a way to try again,
never a blank page; a good token entered in the form opens the screen."""

from __future__ import annotations

import time
from typing import Any

from jiesu.engine.auth import Role, TokenSigner


async def test_wrong_token_shows_clear_message_then_form_login_works(
    engine: Any, browser: Any
) -> None:
    forged = TokenSigner(b"some-other-secret-0123456789abcdef").mint(
        "agent-7", Role.AGENT, "12345", 3600, time.time()
    )
    page, problems = await engine.open_page(browser, f"/agent#token={forged}")
    problem = page.locator(".signin-problem")
    await problem.wait_for()
    assert "签名不符" in await problem.text_content()
    assert await page.is_visible("#token-input")
    assert await page.get_attribute("#link-state", "data-state") == "auth_failed"
    await engine.shot(page, "signin-wrong-token")

    # Garbage is refused as malformed; an ingest token is the wrong kind.
    await page.fill("#token-input", "not-a-token")
    await page.click("#signin-button")
    await page.wait_for_function(
        "() => document.querySelector('.signin-problem')?.textContent.includes('格式不正确')"
    )
    await page.fill("#token-input", engine.token("pbx", Role.INGEST))
    await page.click("#signin-button")
    await page.wait_for_function(
        "() => document.querySelector('.signin-problem')?.textContent.includes('音频接入')"
    )

    # A good token opens the screen; nothing was put in the URL.
    await page.fill("#token-input", engine.token("agent-7"))
    await page.click("#signin-button")
    await page.wait_for_selector('#link-state[data-state="open"]')
    assert await page.is_hidden("#signin")
    assert await page.text_content("#agent-id") == "工号 agent-7"
    assert "token" not in page.url
    assert [p for p in problems if "WebSocket" not in p] == []


async def test_no_token_asks_for_one(engine: Any, browser: Any) -> None:
    page, _ = await engine.open_page(browser, "/supervisor")
    await page.wait_for_selector("#token-input")
    assert await page.locator(".signin-problem").count() == 0
    assert "班长" in await page.text_content(".signin-card h2")
