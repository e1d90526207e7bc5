"""Closing a ballot at its time, as the scheduled job does, and the officers' index."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.app import App
from handlers.ballots import close_and_publish, close_due_ballots
from storage import members
from storage.bargaining_index import Index
from storage.models.bargaining import Ballot
from tests.conftest import Chat
from tests.handlers.test_bargaining import (
    add_worker,
    as_,
    make_due,
    member_id,
    running_session,
    to,
)


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

    keys = app.settings.key_dir
    assert await close_and_publish(app.sessions, app.outbox, ballot, keys) is False  # not due
    await make_due(app)
    assert await close_due_ballots(app.sessions, app.outbox, keys) == 1
    await chat.channel.deliver_waiting()
    published = chat._take()
    assert receipt in to(published, "xiaowang") and f"{receipt}：" not in to(published, "xiaowang")
    assert "当选：小王" in to(published, "chair")
    assert await close_and_publish(app.sessions, app.outbox, ballot, keys) is False  # closed
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


async def test_the_roll_is_frozen_when_the_ballot_opens(app: App) -> None:
    chat = Chat(app, "chair")
    await running_session(app, chat, step=2)
    zhang, wang = await member_id(app, "xiaozhang"), await member_id(app, "xiaowang")
    opened = await chat.say(f"/election 1 24 {zhang} {wang}")
    assert "已通知 4 位有投票权的职工" in to(opened, "chair")
    ballot = int(re.findall(r"v:(\d+):1", str(opened))[0])
    await add_worker(app, chat, "xiaoli")  # verified after the ballot opened
    assert "没有投票权" in to(await as_(chat, "xiaoli", f"/vote {ballot} 1"), "xiaoli")
    assert "没有您可以投的票" in to(await as_(chat, "xiaoli", "/vote"), "xiaoli")
    async with app.sessions() as session, session.begin():
        left = await members.find_member(session, "xiaowang")
        assert left is not None
        left.enterprise_status = None  # leaves after the opening: still on the roll
    pressed = to(await as_(chat, "xiaowang", {"press": f"vote:{ballot} 1"}), "xiaowang")
    assert "回执码" not in pressed, "the menu's button only lists; it casts no vote"
    assert "回执码" in to(await as_(chat, "xiaowang", f"/vote {ballot} 1"), "xiaowang")
    await make_due(app)
    tally = await chat.text_of("/close_ballot")
    assert "代表选举：1/4 人投票" in tally


async def test_a_voter_sees_their_choice_once_and_checks_the_receipt_privately(
    app: App,
) -> None:
    chat = Chat(app, "chair")
    await running_session(app, chat, step=2)
    zhang, wang = await member_id(app, "xiaozhang"), await member_id(app, "xiaowang")
    opened = await chat.say(f"/election 2 24 {zhang} {wang}")
    ballot = int(re.findall(r"v:(\d+):1", str(opened))[0])
    voted = await as_(chat, "xiaowang", f"/vote {ballot} 1 2")
    assert [m["to"] for m in voted] == ["xiaowang"]
    assert "您投的是：小张、小王" in voted[0]["text"]
    receipt = re.search(r"回执码是 ([A-Z2-9]{8})", voted[0]["text"]).group(1)  # type: ignore[union-attr]
    assert "还没有截止计票" in to(await as_(chat, "xiaowang", f"/receipt {receipt}"), "xiaowang")
    assert "请这样写" in to(await as_(chat, "xiaowang", "/receipt 12"), "xiaowang")
    await make_due(app)
    published = await chat.say("/close_ballot")
    lines = [line for m in published for line in m["text"].splitlines() if receipt in line]
    assert lines and not any("小张" in line or "小王" in line for line in lines)
    assert receipt in to(published, "employer") and f"{receipt}：" not in to(published, "employer")
    counted = to(await as_(chat, "xiaowang", f"/receipt {receipt.lower()}"), "xiaowang")
    assert f"回执码 {receipt} 的选票已计入第 {ballot} 号票" in counted and "小张" not in counted
    unknown = to(await as_(chat, "xiaowang", "/receipt ABCDEFGH"), "xiaowang")
    assert "已计票的投票中没有回执码 ABCDEFGH" in unknown
