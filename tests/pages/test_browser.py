"""The pages in a real browser (headless Chromium): what a member sees on their phone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app import App
from tests.conftest import Chat
from tests.handlers.test_bargaining import as_, to
from tests.pages.browser import chromium, screenshot
from tests.pages.support import open_meeting, watch_link
from tests.pages.test_dashboard import busy_federation, code_in
from tests.wechat_support import served
from unionbot.web import create_web_app


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


async def test_the_dashboard_shows_chinese_text_and_its_charts(
    app: App, base: str, browser: Any, database_url: str
) -> None:
    chat = Chat(app, "chair")
    await busy_federation(app, chat)
    code = code_in(to(await as_(chat, "officer", "/dashboard"), "officer"))
    page = await browser.new_page()
    await page.goto(f"{base}/w/signin")
    assert "工会干部看板登录" in await page.inner_text("h1")
    await page.fill("#code", code)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/w/dashboard")
    assert await page.inner_text("h1") == "工会干部看板"
    assert "已超时" in await page.inner_text("#table-sessions tr.overdue")
    charts = page.locator("svg.chart")
    assert await charts.count() == 3
    for n in range(3):
        box = await charts.nth(n).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 50
    assert "各企业每次协商的协商指数" in (await charts.nth(0).locator("title").text_content() or "")
    await screenshot(page, f"dashboard-{database_url.split('+')[0]}")
    await page.close()
