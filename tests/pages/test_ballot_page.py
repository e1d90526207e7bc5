"""A ballot's result page: a voter opens it from the tally's button, sees the totals and a
chart, and checks that their receipt was counted, without any receipt's choice shown."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.app import App
from tests.conftest import Chat, payloads
from tests.handlers.test_bargaining import as_, make_due, member_id, running_session, to
from tests.pages.support import link_in
from tests.wechat_support import served
from unionbot.web import create_web_app


@pytest.fixture
async def site(app: App) -> AsyncIterator[httpx.AsyncClient]:
    async with served(create_web_app(app, [])) as base:
        app.settings.web_url = base
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            yield client


async def test_a_voter_reads_the_result_and_checks_their_receipt(
    app: App, site: httpx.AsyncClient
) -> None:
    chat = Chat(app, "chair")
    _, code = await running_session(app, chat, step=2)
    for name in ("xiaozhang", "xiaowang"):
        await as_(chat, name, f"/join {code}")
    zhang, wang = [await member_id(app, n) for n in ("xiaozhang", "xiaowang")]
    opened = await chat.say(f"/election 1 48 {zhang} {wang}")
    ballot = int(re.findall(r"v:(\d+):1", str(opened))[0])
    voted = to(await as_(chat, "xiaozhang", {"press": f"v:{ballot}:2"}), "xiaozhang")
    receipt = re.search(r"回执码是 ([A-Z2-9]{8})", voted).group(1)  # type: ignore[union-attr]
    await as_(chat, "xiaowang", {"press": f"v:{ballot}:2"})

    # Before closing, the page says voting is open and shows no numbers.
    pressed = await as_(chat, "xiaozhang", {"press": f"wb:{ballot}"})
    assert "分钟内有效" in to(pressed, "xiaozhang")
    early = await site.get(link_in(pressed, "xiaozhang"), follow_redirects=True)
    assert "投票还在进行" in early.text and "<svg" not in early.text

    await make_due(app)
    published = await chat.say("/close_ballot")
    [tally] = [m for m in published if m["to"] == "xiaozhang"]
    assert f"wb:{ballot}" in payloads(tally)
    page = await site.get(f"/w/ballot/{ballot}")
    assert page.status_code == 200
    assert "小王 2 票" in page.text and '<svg class="chart"' in page.text
    assert receipt not in page.text

    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    mine = await site.post(
        f"/w/ballot/{ballot}/receipt", data={"csrf": csrf, "receipt": f" {receipt.lower()} "}
    )
    assert "已计入" in mine.text and receipt in mine.text and "小王 2 票" in mine.text
    other = await site.post(
        f"/w/ballot/{ballot}/receipt", data={"csrf": csrf, "receipt": "ZZZZ2222"}
    )
    assert "没有这个回执码" in other.text
    forged = await site.post(f"/w/ballot/{ballot}/receipt", data={"receipt": receipt})
    assert forged.status_code == 403

    # A member of another enterprise is refused the button and the page.
    assert "还没有加入" in to(await as_(chat, "xiaoli", {"press": f"wb:{ballot}"}), "xiaoli")
