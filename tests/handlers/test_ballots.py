"""Closing a ballot at its time, as the scheduled job does, and the officers' index."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.app import App
from handlers.ballots import close_and_publish, close_due_ballots
from storage.bargaining_index import Index
from storage.models.bargaining import Ballot
from tests.conftest import Chat
from tests.handlers.test_bargaining import as_, make_due, member_id, running_session, to


async def test_the_closing_job_publishes_the_tally_to_followers(app: App) -> None:
    chat = Chat(app, "chair")
    _, code = await running_session(app, chat, step=2)
    await as_(chat, "xiaowang", f"/join {code}")
    zhang, wang = await member_id(app, "xiaozhang"), await member_id(app, "xiaowang")
    opened = await chat.say(f"/election 1 24 {zhang} {wang}")
    ballot = int(re.findall(r"v:(\d+):1", str(opened))[0])
    voted = to(await as_(chat, "xiaowang", f"/vote {ballot} 2"), "xiaowang")
    receipt = re.search(r"回执码是 ([A-Z2-9]{8})", voted).group(1)  # type: ignore[union-attr]
    assert "没有您可以投的票" in to(await as_(chat, "xiaowang", "/vote"), "xiaowang")
    listed = await as_(chat, "xiaozhang", "/vote")
    assert "代表选举" in to(listed, "xiaozhang")
    assert "没有这场投票" in to(await as_(chat, "xiaozhang", "/vote 99999 1"), "xiaozhang")

    assert await close_and_publish(app.sessions, app.messenger, ballot) is False  # not due
    await make_due(app)
    assert await close_due_ballots(app.sessions, app.messenger) == 1
    published = chat._take()
    assert f"{receipt}：小王" in to(published, "xiaowang")
    assert "当选：小王" in to(published, "chair")
    assert await close_and_publish(app.sessions, app.messenger, ballot) is False  # closed
    assert "投票已经截止" in to(await as_(chat, "xiaozhang", f"/vote {ballot} 1"), "xiaozhang")
    async with app.sessions() as session:
        closed = await session.scalar(select(Ballot).where(Ballot.id == ballot))
        assert closed is not None and closed.closed_at is not None


async def test_the_chair_gives_ballots_sensible_arguments(app: App) -> None:
    chat = Chat(app, "chair")
    await running_session(app, chat, step=2)
    assert "请这样写" in await chat.text_of("/election 2")
    assert "请这样写" in await chat.text_of("/election 2 0 5 6")
    assert "请写投票时长" in await chat.text_of("/congress soon")
    assert "第 7 步进行" in await chat.text_of("/congress 24")
    assert "没有进行中的投票" in await chat.text_of("/close_ballot")
    assert "工会主席" in to(await as_(chat, "xiaozhang", "/election 1 24 1 2"), "xiaozhang")


def test_the_index_weighs_participation_turnout_adoption_and_timeliness() -> None:
    index = Index("永康市众诚五金制品有限公司", 1, 0.5, 1.0, 0.5, 1.0)
    assert round(index.value) == round(100 * (0.15 + 0.3 + 0.1 + 0.2))


async def test_officers_see_the_index_of_each_enterprise(app: App) -> None:
    chat = Chat(app, "chair")
    await running_session(app, chat)
    shown = to(await as_(chat, "officer", "/bg_index"), "officer")
    assert "永康市众诚五金制品有限公司（2 次协商）" in shown
    assert "浙江顺虎铝业有限公司（2 次协商）" in shown
    assert "工会干部" in to(await as_(chat, "xiaozhang", "/bg_index"), "xiaozhang")
