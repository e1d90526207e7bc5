"""The live meeting page: a follower opens the personal link the bot gives them, reads the
transcript, receives a statement the chair makes in chat over server-sent events, and
puts a suggestion in the box; links that are expired, forged or someone else's show why."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from bot import web_links
from bot.app import App
from bot.pages.site import COOKIE
from storage import members
from storage.types import utcnow
from tests.handlers.test_bargaining import as_, member_id, payloads, to
from tests.pages.support import link_in, open_meeting, watch_link
from tests.wechat_support import served
from unionbot.web import create_web_app


@pytest.fixture
async def site(app: App) -> AsyncIterator[httpx.AsyncClient]:
    """The web app over real HTTP (server-sent events need a real server), with its address
    as the pages' public root."""
    async with served(create_web_app(app, [])) as base:
        app.settings.web_url = base
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            yield client


async def next_statement(stream: AsyncIterator[str]) -> dict[str, object]:
    """The data of the next ``statement`` event on an event stream's lines."""
    event = ""
    async for line in stream:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == "statement":
            data: dict[str, object] = json.loads(line.removeprefix("data: "))
            return data
    raise AssertionError("the stream ended")


async def test_a_follower_watches_the_meeting_live_and_suggests(
    app: App, site: httpx.AsyncClient
) -> None:
    chat, session_id = await open_meeting(app)
    opened = await chat.say("我方提出工资平均增长 6%")
    assert "#1【职工方·工会主席】" in to(opened, "xiaozhang")
    [notice] = [m for m in await as_(chat, "xiaozhang", "/transcript") if m["to"] == "xiaozhang"]
    assert f"wm:{session_id}" in payloads(notice)

    pressed = await as_(chat, "xiaozhang", {"press": f"wm:{session_id}"})
    assert "30 分钟内有效" in to(pressed, "xiaozhang")
    link = link_in(pressed, "xiaozhang")
    assert link.startswith("/w/open/") and "xiaozhang" not in link

    opened_link = await site.get(link)
    assert opened_link.status_code == 303
    assert opened_link.headers["location"] == f"/w/meeting/{session_id}"
    assert "httponly" in opened_link.headers["set-cookie"].lower()
    page = await site.get(opened_link.headers["location"])
    assert page.status_code == 200
    assert "#1【职工方·工会主席】陈主席：我方提出工资平均增长 6%" in page.text
    assert "第 5 步：协商会议" in page.text and "会议进行中" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self'" in page.headers["content-security-policy"]

    async with site.stream("GET", f"/w/meeting/{session_id}/events?after=1") as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        lines = events.aiter_lines()
        said = time.monotonic()
        await chat.say("夜班津贴提高到每晚 30 元")
        statement = await asyncio.wait_for(next_statement(lines), 5)
        assert time.monotonic() - said < 1.0
    assert statement == {"seq": 2, "text": "#2【职工方·工会主席】陈主席：夜班津贴提高到每晚 30 元"}

    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    forged = await site.post(
        f"/w/meeting/{session_id}/suggest", data={"csrf": "x" * 43, "text": "伪造的建议"}
    )
    assert forged.status_code == 403 and "表单已失效" in forged.text
    sent = await site.post(
        f"/w/meeting/{session_id}/suggest", data={"csrf": csrf, "text": "夜班津贴也要提高"}
    )
    assert sent.status_code == 303
    assert "建议箱" in (await site.get(sent.headers["location"])).text
    box = await chat.text_of("/suggestions")
    assert "夜班津贴也要提高" in box and "伪造的建议" not in box and "小张" not in box


async def test_the_access_log_shows_a_link_without_its_token(
    app: App, site: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    chat, session_id = await open_meeting(app)
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    link = await watch_link(chat, "xiaozhang", session_id)
    assert (await site.get(link)).status_code == 303
    assert "GET /w/open/…" in caplog.text
    assert link.removeprefix("/w/open/") not in caplog.text


async def test_bad_links_and_strangers_get_a_clear_page(app: App, site: httpx.AsyncClient) -> None:
    chat, session_id = await open_meeting(app)
    zhang = await member_id(app, "xiaozhang")
    past = utcnow() - timedelta(hours=1)
    expired = web_links.page_link(app.settings, zhang, f"meeting/{session_id}", past)
    assert expired is not None
    answer = await site.get(expired.removeprefix(app.settings.web_url or ""))
    assert answer.status_code == 403 and "已过期" in answer.text and COOKIE not in answer.headers

    link = await watch_link(chat, "xiaozhang", session_id)
    payload, signature = link.removeprefix("/w/open/").split(".")
    tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    for forged in (f"/w/open/{tampered}.{signature}", "/w/open/nonsense", f"{link}x"):
        answer = await site.get(forged)
        assert answer.status_code == 403 and "链接无效" in answer.text

    site.cookies.clear()
    assert "请先从聊天中打开" in (await site.get(f"/w/meeting/{session_id}")).text

    # A member of another enterprise is refused the button in chat and the page on the web.
    assert "还没有加入" in to(await as_(chat, "xiaoli", {"press": f"wm:{session_id}"}), "xiaoli")
    li = await member_id(app, "xiaoli")
    stranger = web_links.page_link(app.settings, li, f"meeting/{session_id}", utcnow())
    assert stranger is not None
    await site.get(stranger.removeprefix(app.settings.web_url or ""))
    refused = await site.get(f"/w/meeting/{session_id}")
    assert refused.status_code == 403 and "无权查看" in refused.text
    events = await site.get(f"/w/meeting/{session_id}/events")
    assert events.status_code == 403


async def test_an_open_stream_ends_when_the_viewers_session_does(
    app: App, site: httpx.AsyncClient
) -> None:
    _, session_id = await open_meeting(app)
    zhang = await member_id(app, "xiaozhang")
    soon = utcnow() + timedelta(seconds=2)
    cookie = web_links.sign(
        app.settings.key_dir, web_links.Claims(web_links.SESSION, zhang, "", soon)
    )
    site.cookies.set(COOKIE, cookie)
    async with site.stream("GET", f"/w/meeting/{session_id}/events") as events:
        lines = [line async for line in events.aiter_lines()]
    assert "event: expired" in lines
    assert any("本次围观的时间已到" in line for line in lines)
    refused = await site.get(f"/w/meeting/{session_id}/events")
    assert refused.status_code == 403 and "请先从聊天中打开" in refused.text


async def test_without_a_public_address_the_bot_says_the_pages_are_not_set_up(app: App) -> None:
    chat, session_id = await open_meeting(app)
    assert app.settings.web_url is None
    answer = await as_(chat, "xiaozhang", {"press": f"wm:{session_id}"})
    assert "网页版还没有开通" in to(answer, "xiaozhang")


async def test_an_english_member_reads_the_page_in_english(
    app: App, site: httpx.AsyncClient
) -> None:
    chat, session_id = await open_meeting(app)
    async with app.sessions() as session, session.begin():
        zhang = await members.find_member(session, "xiaozhang")
        assert zhang is not None
        zhang.language = "en"
    link = await watch_link(chat, "xiaozhang", session_id)
    page = await site.get(link, follow_redirects=True)
    assert '<html lang="en">' in page.text and "Transcript" in page.text
    assert "step 5: the bargaining meeting" in page.text
