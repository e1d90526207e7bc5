"""Reopening means redoing: sending a session back voids what that step and the later
ones produced (kept on record, marked void), and the chair must do them again. Step
buttons name the session and step they were shown for; a stale one is refused."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.app import App
from storage.models.bargaining import (
    Ballot,
    BargainingSession,
    Representative,
    StepTransition,
    VoidedText,
)
from storage.types import utcnow
from tests.conftest import Chat, payloads
from tests.handlers.test_bargaining import as_, make_due, member_id, running_session, to


async def elect(app: App, chat: Chat) -> int:
    """The chair holds an election at step 2, closes it and moves to step 3."""
    zhang, wang = await member_id(app, "xiaozhang"), await member_id(app, "xiaowang")
    opened = await chat.say(f"/election 1 24 {zhang} {wang}")
    ballot = int(re.findall(r"v:(\d+):1", str(opened))[0])
    await as_(chat, "xiaowang", f"/vote {ballot} 1")
    await make_due(app)
    await chat.say("/close_ballot")
    assert "第 3 步" in await chat.text_of("/next")
    return ballot


async def test_an_election_voided_by_reopening_must_be_held_again(app: App) -> None:
    chat = Chat(app, "chair")
    bs, _ = await running_session(app, chat, step=2)
    old = await elect(app, chat)
    [status] = await chat.say("/bargain")
    assert payloads(status) == [f"bg:next:{bs.id}:3"]
    await as_(chat, "officer", f"/bg_reopen {bs.id} 2 选举程序有误")

    assert "选出职工代表" in await chat.text_of("/next")
    stale = await chat.text_of({"press": f"bg:next:{bs.id}:3"})
    assert "按钮已过期" in stale and "第 2 步：代表选举" in stale
    async with app.sessions() as session:
        voided = await session.get(Ballot, old)
        assert voided is not None and voided.voided_at is not None and voided.result
        elected = await session.scalars(
            select(Representative).where(Representative.session_id == bs.id)
        )
        assert elected.all() == []
        closing = await session.scalar(
            select(StepTransition).where(
                StepTransition.session_id == bs.id,
                StepTransition.action == "close",
                StepTransition.step == 2,
            )
        )
        assert closing is not None and closing.voided_at is not None
    again = await elect(app, chat)
    assert again != old
    [status] = await chat.say("/bargain")
    assert "第 3 步" in status["text"]


async def test_a_congress_vote_and_resolution_voided_by_reopening_must_be_redone(
    app: App,
) -> None:
    chat = Chat(app, "chair")
    bs, _ = await running_session(app, chat, step=8)
    async with app.sessions() as session, session.begin():
        now = utcnow()
        session.add(
            Ballot(
                session_id=bs.id,
                kind="congress",
                closes_at=now,
                closed_at=now,
                eligible=2,
                passed=True,
                result={"voted": 2, "counts": {"for": 2, "against": 0, "abstain": 0}},
            )
        )
    await chat.say("/resolution 《2027 年度工资专项集体合同》")
    [status] = await chat.say("/bargain")
    assert "第 9 步" in await chat.text_of("/next")

    await as_(chat, "officer", f"/bg_reopen {bs.id} 8 合同缺少签字页")
    assert "协商决议（" in await chat.text_of("/next")
    await as_(chat, "officer", f"/bg_reopen {bs.id} 7 代表人数不足")
    assert "表决通过" in await chat.text_of("/next")
    assert "按钮已过期" in await chat.text_of({"press": payloads(status)[0]})
    async with app.sessions() as session:
        voided = await session.scalar(select(Ballot).where(Ballot.session_id == bs.id))
        assert voided is not None and voided.voided_at is not None and voided.passed
        kept = (await session.scalars(select(VoidedText))).all()
        assert [(v.field, v.step, v.text) for v in kept] == [
            ("resolution_text", 8, "《2027 年度工资专项集体合同》")
        ]
        now_bs = await session.get(BargainingSession, bs.id)
        assert now_bs is not None and now_bs.resolution_text is None


async def test_an_open_ballot_voided_by_reopening_loses_its_papers_and_key(app: App) -> None:
    chat = Chat(app, "chair")
    bs, _ = await running_session(app, chat, step=2)
    zhang, wang = await member_id(app, "xiaozhang"), await member_id(app, "xiaowang")
    opened = await chat.say(f"/election 1 24 {zhang} {wang}")
    ballot = int(re.findall(r"v:(\d+):1", str(opened))[0])
    await as_(chat, "xiaowang", f"/vote {ballot} 1")
    keys = list((app.settings.key_dir / "ballots").iterdir())
    assert len(keys) == 1
    async with app.sessions() as session, session.begin():
        found = await session.get(BargainingSession, bs.id)
        assert found is not None
        found.step = 3
    await as_(chat, "officer", f"/bg_reopen {bs.id} 2 候选人名单有误")
    assert list((app.settings.key_dir / "ballots").iterdir()) == []
    assert "投票已经截止" in to(await as_(chat, "xiaozhang", f"/vote {ballot} 1"), "xiaozhang")
    await make_due(app)
    assert "没有进行中的投票" in await chat.text_of("/close_ballot")
    assert "投票开始了" in await chat.text_of(f"/election 1 24 {zhang} {wang}")


async def test_a_filing_review_voided_by_reopening_is_on_record(app: App) -> None:
    chat = Chat(app, "chair")
    bs, _ = await running_session(app, chat, step=9)
    await as_(chat, "officer", f"/bg_review {bs.id}")
    await as_(chat, "officer", f"/bg_reopen {bs.id} 9 备案材料不全")
    assert "工会干部来完成" in await chat.text_of("/next")
    async with app.sessions() as session:
        review = await session.scalar(
            select(StepTransition).where(
                StepTransition.session_id == bs.id, StepTransition.step == 9
            )
        )
        assert review is not None and review.voided_at is not None
