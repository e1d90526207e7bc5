"""A wage bargaining on the console, from the chair's first step to the public posting,
watched by the workers who joined, with an election, a congress vote and a suggestion."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select, update

from bot.app import App
from storage import members
from storage.models.bargaining import Ballot, BargainingSession, StepTransition
from storage.seed import demo_files, import_file
from storage.types import utcnow
from tests.conftest import Chat, payloads


async def load_demo(app: App) -> None:
    async with app.sessions() as session, session.begin():
        for path in demo_files():
            await import_file(session, path)


async def member_id(app: App, name: str) -> int:
    async with app.sessions() as session:
        found = await members.find_member(session, name)
        assert found is not None
        return found.id


async def as_(chat: Chat, name: str, line: str | dict[str, Any]) -> list[dict[str, Any]]:
    action = {"text": line} if isinstance(line, str) else line
    return await chat.say({"as": name, **action})


def to(messages: list[dict[str, Any]], name: str) -> str:
    return "\n".join(m["text"] for m in messages if m["to"] == name)


async def make_due(app: App) -> None:
    """The closing time of every open ballot passes (the test does not wait for it)."""
    async with app.sessions() as session, session.begin():
        await session.execute(
            update(Ballot).where(Ballot.closed_at.is_(None)).values(closes_at=utcnow())
        )


async def add_worker(app: App, chat: Chat, name: str, enterprise: str = "chair") -> None:
    """A new worker writes to the bot and is a member of the chair's enterprise."""
    await as_(chat, name, "/menu")
    async with app.sessions() as session, session.begin():
        worker = await members.find_member(session, name)
        colleague = await members.find_member(session, enterprise)
        assert worker is not None and colleague is not None
        worker.enterprise_id = colleague.enterprise_id


async def start_session(chat: Chat) -> str:
    assert "哪一种" in await chat.text_of("/bargain_new")
    assert "标题" in await chat.text_of({"press": "f:c:wage"})
    assert "年份" in await chat.text_of("2027 年度工资集体协商")
    assert "2027" in await chat.text_of("2027")
    started = await chat.text_of({"press": "f:ok"})
    match = re.search(r"参与码是 ([A-Z2-9]{6})", started)
    assert match, started
    assert "第 1 步：发起协商" in started
    return match.group(1)


async def test_a_chair_runs_a_bargaining_through_all_ten_steps(app: App) -> None:
    await load_demo(app)
    chat = Chat(app, "chair")
    code = await start_session(chat)

    # Two workers join: one with the code, one by scanning (a deep link).
    assert "已加入" in to(await as_(chat, "xiaozhang", f"/join {code}"), "xiaozhang")
    assert "已加入" in to(await as_(chat, "xiaowang", {"start": f"bg_{code}"}), "xiaowang")

    # Step 1 closes; every follower hears of step 2.
    moved = await chat.say("/next")
    assert "第 2 步：代表选举" in to(moved, "chair")
    assert "进入第 2 步：代表选举" in to(moved, "xiaozhang")
    assert "进入第 2 步：代表选举" in to(moved, "xiaowang")
    assert "代表选举还没有结束" in await chat.text_of("/next")

    # The election: three candidates for two seats; each member votes once.
    zhang, wang, employer = [await member_id(app, n) for n in ("xiaozhang", "xiaowang", "employer")]
    listing = await chat.text_of("/bg_members")
    assert f"{zhang}. 小张" in listing and f"{employer}. 程代表" in listing
    opened = await chat.say(f"/election 2 48 {zhang} {wang} {employer}")
    assert "投票开始了" in to(opened, "chair")
    invitation = next(m for m in opened if m["to"] == "xiaozhang")
    ballot = int(re.search(r"第 (\d+) 号票", invitation["text"]).group(1))  # type: ignore[union-attr]
    assert payloads(invitation) == [f"v:{ballot}:1", f"v:{ballot}:2", f"v:{ballot}:3"]
    first = to(await as_(chat, "xiaozhang", {"press": f"v:{ballot}:1"}), "xiaozhang")
    receipt = re.search(r"回执码是 ([A-Z2-9]{8})", first).group(1)  # type: ignore[union-attr]
    again = to(await as_(chat, "xiaozhang", {"press": f"v:{ballot}:2"}), "xiaozhang")
    assert "已经投过票" in again
    assert "回执码" in to(await as_(chat, "xiaowang", f"/vote {ballot} 1 2"), "xiaowang")
    assert "回执码" in await chat.text_of(f"/vote {ballot} 2")
    assert "还不能结束" in await chat.text_of("/close_ballot")
    await make_due(app)
    published = await chat.say("/close_ballot")
    result = to(published, "xiaowang")
    assert "3/" in result and "当选：小张、小王" in result
    assert f"{receipt}：小张" in result
    assert "小张 2 票" in to(published, "chair")

    # Steps 2 to 4: the offer is written before it is sent, the employer is named.
    await chat.say("/next")
    assert "要约内容" in await chat.text_of("/next")
    assert "已保存" in await chat.text_of("/offer 职工工资平均增长 6%")
    assert "第 4 步" in await chat.text_of("/next")
    assert "首席代表" in await chat.text_of("/next")
    named = await chat.say(f"/employer {employer}")
    assert "程代表 是企业方首席代表" in to(named, "chair")
    assert "首席代表" in to(named, "employer")
    assert "第 5 步：协商会议" in await chat.text_of("/next")

    # Step 5: the meeting, watched live.
    assert "会议还没开完" in await chat.text_of("/next")
    opened = await chat.say("/meeting_open")
    assert "会议开始了" in to(opened, "xiaozhang")
    said = await chat.say("我方提出工资平均增长 6%")
    assert "#1【职工方·工会主席】陈主席：我方提出工资平均增长 6%" in to(said, "xiaozhang")
    assert "#1【职工方·工会主席】" in to(said, "xiaowang")
    reply = await as_(chat, "employer", "企业同意增长 5%")
    assert "#2【企业方·首席代表】程代表：企业同意增长 5%" in to(reply, "xiaozhang")
    assert "#2【企业方·首席代表】" in to(reply, "chair")
    rep = await as_(chat, "xiaozhang", "夜班津贴也要提高")
    assert "#3【职工方·职工代表】小张" in to(rep, "xiaowang")
    assert "本企业职工" in to(await as_(chat, "xiaoli", f"/join {code}"), "xiaoli")
    await add_worker(app, chat, "xiaoliu")
    joined = await as_(chat, "xiaoliu", f"/join {code}")
    assert "会议正在进行" in to(joined, "xiaoliu")
    transcript = await as_(chat, "xiaoliu", {"press": payloads(joined[0])[0]})
    assert "#1【职工方·工会主席】" in to(transcript, "xiaoliu")
    assert "#2【企业方·首席代表】" in to(transcript, "xiaoliu")
    watching = await as_(chat, "xiaoliu", "我也想说两句")
    assert "建议箱" in to(watching, "xiaoliu")
    assert to(watching, "xiaozhang") == ""
    closed = await chat.say("/meeting_close")
    assert "会议结束了" in to(closed, "xiaowang")

    # Steps 6 and 7: minutes, then the workers' congress of the two representatives.
    assert "第 6 步" in await chat.text_of("/next")
    await chat.text_of("/minutes 双方同意平均增长 5.5%")
    assert "第 7 步" in await chat.text_of("/next")
    assert "表决通过" in await chat.text_of("/next")
    opened = await chat.say("/congress 24")
    assert "2 位" in to(opened, "chair")
    congress = int(re.findall(r"v:(\d+):for", str(opened))[0])
    assert "回执码" in to(await as_(chat, "xiaozhang", {"press": f"v:{congress}:for"}), "xiaozhang")
    assert "没有投票权" in to(await as_(chat, "xiaoliu", {"press": f"v:{congress}:for"}), "xiaoliu")
    assert "回执码" in to(await as_(chat, "xiaowang", {"press": f"v:{congress}:for"}), "xiaowang")
    assert "已经投过" in to(
        await as_(chat, "xiaowang", {"press": f"v:{congress}:against"}), "xiaowang"
    )
    await make_due(app)
    tally = to(await chat.say("/close_ballot"), "chair")
    assert "职代会表决通过：赞成 2，反对 0，弃权 0" in tally
    assert tally.count("：赞成") == 3

    # Steps 8 to 10: the resolution, the officer's review, the public posting.
    assert "第 8 步" in await chat.text_of("/next")
    assert "协商决议（" in await chat.text_of("/next")
    await chat.text_of("/resolution 《2027 年度工资专项集体合同》已签字")
    assert "第 9 步：备案审查" in await chat.text_of("/next")
    assert "工会干部来完成" in await chat.text_of("/next")
    async with app.sessions() as session:
        bs = await session.scalar(select(BargainingSession).where(BargainingSession.code == code))
        assert bs is not None
    reviewed = await as_(chat, "officer", f"/bg_review {bs.id}")
    assert "第 10 步：张榜公示" in to(reviewed, "officer")
    assert "进入第 10 步" in to(reviewed, "chair")
    posted = await chat.say("/next")
    assert "张榜公示" in to(posted, "xiaozhang") and "已签字" in to(posted, "xiaozhang")
    assert "已完成" in to(posted, "chair")
    assert "已经完成" in await chat.text_of("/next") or "没有进行中" in await chat.text_of("/next")

    # Every transition is on record, and the history shows the result.
    async with app.sessions() as session:
        steps = (
            await session.scalars(
                select(StepTransition.step)
                .where(StepTransition.session_id == bs.id, StepTransition.action == "close")
                .order_by(StepTransition.id)
            )
        ).all()
        assert list(steps) == list(range(1, 11))
    past = to(await as_(chat, "xiaowang", "/history"), "xiaowang")
    assert "2027 年度工资集体协商" in past and "通过" in past
