"""The pages in a real browser (headless Chromium): what a member sees on their phone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app import App
from bot.web import create_web_app
from tests.handlers.test_bargaining import as_
from tests.pages.browser import chromium, screenshot
from tests.pages.support import open_meeting, watch_link
from tests.wechat_support import served


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async for context in chromium():
        yield context


@pytest.fixture
async def base(app: App) -> AsyncIterator[str]:
    async with served(create_web_app(app, [])) as root:
        app.settings.web_url = root
        yield root


async def test_the_live_page_shows_a_statement_made_in_chat(
    app: App, base: str, browser: Any, database_url: str
) -> None:
    chat, session_id = await open_meeting(app)
    await chat.say("我方提出工资平均增长 6%")
    page = await browser.new_page()
    await page.goto(base + await watch_link(chat, "xiaozhang", session_id))
    assert "陈主席：我方提出工资平均增长 6%" in await page.inner_text("#s1")
    await page.wait_for_selector("#live", state="visible")

    await as_(chat, "chair", "夜班津贴提高到每晚 30 元")
    second = await page.wait_for_selector("#s2", timeout=3000)
    assert await second.inner_text() == "#2【职工方·工会主席】陈主席：夜班津贴提高到每晚 30 元"
    await chat.say("/meeting_close")
    await page.wait_for_selector("#meeting:has-text('会议未在进行')", timeout=3000)

    await page.fill("#text", "希望增加高温补贴")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#sent")
    await screenshot(page, f"meeting-{database_url.split('+')[0]}")
    await page.close()
    assert "希望增加高温补贴" in await chat.text_of("/suggestions")
