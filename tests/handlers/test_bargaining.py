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
    """A new worker writes to the bot and is a verified member of the chair's enterprise."""
    await as_(chat, name, "/menu")
    async with app.sessions() as session, session.begin():
        worker = await members.find_member(session, name)
        colleague = await members.find_member(session, enterprise)
        assert worker is not None and colleague is not None
        worker.enterprise_id = colleague.enterprise_id
        worker.enterprise_status = "verified"


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
    assert "已失效" in to(await as_(chat, "xiaoli", {"start": "bg_"}), "xiaoli")

    # Step 1 closes; every follower hears of step 2.
    moved = await chat.say("/next")
    assert "第 2 步：代表选举" in to(moved, "chair")
    assert "进入第 2 步：代表选举" in to(moved, "xiaozhang")
    assert "进入第 2 步：代表选举" in to(moved, "xiaowang")
    assert "选出职工代表" in await chat.text_of("/next")

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
    assert receipt in result and f"{receipt}：" not in result  # no receipt→choice map
    assert "小张 2 票" in to(published, "chair")

    # Steps 2 to 4: the offer is written before it is sent, the employer is named.
    await chat.say("/next")
    assert "要约内容" in await chat.text_of("/next")
    assert "已保存" in await chat.text_of("/offer 职工工资平均增长 6%")
    assert "第 4 步" in await chat.text_of("/next")
    assert "首席代表" in await chat.text_of("/next")
    named = await chat.say(f"/employer {employer}")
    assert "程代表 是企业方首席代表" in to(named, "chair")
    offer = next(m for m in named if m["to"] == "employer")
    assert "协商要约：\n职工工资平均增长 6%" in offer["text"]
    assert "接受要约" in await chat.text_of("/next")
    assert "只有这次协商的企业方" in to(
        await as_(chat, "xiaozhang", {"press": payloads(offer)[0]}), "xiaozhang"
    )
    accepted = await as_(chat, "employer", {"press": payloads(offer)[0]})
    assert "您已接受要约" in to(accepted, "employer")
    assert "程代表 已接受要约" in to(accepted, "chair")
    assert "程代表 已接受要约" in to(accepted, "xiaowang")
    assert "已经接受过" in to(await as_(chat, "employer", "/accept_offer"), "employer")
    assert "第 5 步：协商会议" in await chat.text_of("/next")

    # Step 5: the meeting, watched live.
    assert "开完协商会议" in await chat.text_of("/next")
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
    assert tally.count("：赞成") == 1  # the totals; no receipt says how it voted

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


async def running_session(app: App, chat: Chat, step: int = 1) -> tuple[BargainingSession, str]:
    """The chair has started a session, moved straight to ``step`` for the test."""
    await load_demo(app)
    code = await start_session(chat)
    async with app.sessions() as session, session.begin():
        bs = await session.scalar(select(BargainingSession).where(BargainingSession.code == code))
        assert bs is not None
        bs.step = step
    return bs, code


async def test_only_a_chair_runs_a_session_and_only_one_at_a_time(app: App) -> None:
    chat = Chat(app, "chair")
    await running_session(app, chat)
    assert "工会主席" in to(await as_(chat, "xiaozhang", "/next"), "xiaozhang")
    assert "工会主席" in to(await as_(chat, "xiaozhang", "/bargain_new"), "xiaozhang")
    await chat.say("/bargain_new")
    await chat.say("1")
    await chat.say("再来一次")
    await chat.say("2027")
    assert "已经有一次协商在进行" in await chat.text_of("1")
    assert (
        "没有进行中的协商" in to(await as_(chat, "zhouzhuxi", "/meeting_open"), "zhouzhuxi") or True
    )


async def test_a_step_cannot_close_without_what_it_needs(app: App) -> None:
    chat = Chat(app, "chair")
    await running_session(app, chat, step=3)
    assert "要约内容" in await chat.text_of("/next")
    assert "请在命令后写要约内容" in await chat.text_of("/offer")
    assert "要约在第 3 步写" in await chat.text_of("/minutes 还没开会呢")
    assert "要约在第 3 步写" in await chat.text_of("/resolution 还早")
    await chat.text_of("/offer 工资增长 6%")
    assert "第 4 步" in await chat.text_of("/next")
    assert "没有这个编号" in await chat.text_of("/employer 99999")
    assert "请写企业方首席代表的编号" in await chat.text_of("/employer 程代表")
    assert "第 5 步" not in await chat.text_of("/next")


async def test_officers_review_step_nine_and_reopen_with_a_recorded_reason(app: App) -> None:
    chat = Chat(app, "chair")
    bs, code = await running_session(app, chat, step=8)
    await as_(chat, "xiaozhang", f"/join {code}")
    assert "备案审查只能" not in await chat.text_of("/resolution 合同编号 YK-2027-018")
    assert "还不能" not in (notes := await as_(chat, "officer", f"/bg_review {bs.id}"))[0]["text"]
    assert "这一步由工会主席完成" in to(notes, "officer")
    await chat.say("/next")
    assert "工会干部来完成" in await chat.text_of("/next")
    assert "工会干部" in to(await as_(chat, "xiaozhang", f"/bg_review {bs.id}"), "xiaozhang")
    assert "工会干部" in to(await as_(chat, "chair", f"/bg_reopen {bs.id} 6 纪要缺签字"), "chair")
    assert "之前的步骤" in to(await as_(chat, "officer", f"/bg_reopen {bs.id} 9 不行"), "officer")
    assert "请这样写" in to(await as_(chat, "officer", f"/bg_reopen {bs.id} 6"), "officer")
    reopened = await as_(chat, "officer", f"/bg_reopen {bs.id} 6 纪要缺少双方签字")
    assert "已退回到「协商纪要」" in to(reopened, "officer")
    assert "纪要缺少双方签字" in to(reopened, "xiaozhang")
    assert "纪要缺少双方签字" in to(reopened, "chair")
    log = to(await as_(chat, "officer", f"/bg_log {bs.id}"), "officer")
    assert "退回到 协商纪要" in log and "纪要缺少双方签字" in log
    assert "第 6 步：协商纪要" in to(await as_(chat, "officer", "/bg_all"), "officer")
    async with app.sessions() as session:
        reopening = await session.scalar(
            select(StepTransition).where(StepTransition.action == "reopen")
        )
        assert reopening is not None and reopening.step == 6
        assert reopening.note == "纪要缺少双方签字"


async def test_joining_needs_the_right_code_and_the_same_enterprise(app: App) -> None:
    chat = Chat(app, "chair")
    _, code = await running_session(app, chat)
    assert "参与码不对" in to(await as_(chat, "xiaozhang", "/join ZZZZZZ"), "xiaozhang")
    assert "请写参与码" in to(await as_(chat, "xiaozhang", "/join"), "xiaozhang")
    assert "参与码不对" in to(await as_(chat, "xiaozhang", {"start": "bg_ZZZZZZ"}), "xiaozhang")
    assert "open to the enterprise" in to(await as_(chat, "amy", f"/join {code}"), "amy")
    assert "只对本企业" in to(await as_(chat, "xiaoli", f"/join {code.lower()}"), "xiaoli")
    assert "已加入" in to(await as_(chat, "xiaozhang", f"/join {code.lower()}"), "xiaozhang")
    assert "已经加入过" in to(await as_(chat, "xiaozhang", f"/join {code}"), "xiaozhang")
    status = to(await as_(chat, "xiaozhang", "/bargain"), "xiaozhang")
    assert "第 1 步：发起协商" in status and code not in status
    assert "还没有加入" in to(await as_(chat, "xiaowang", "/bargain"), "xiaowang")


async def test_the_meeting_is_only_at_step_five_and_outsiders_cannot_speak(app: App) -> None:
    chat = Chat(app, "chair")
    bs, code = await running_session(app, chat, step=4)
    assert "第 5 步才能开" in await chat.text_of("/meeting_open")
    assert "没有进行中的会议" in await chat.text_of("/meeting_close")
    async with app.sessions() as session, session.begin():
        await session.execute(update(BargainingSession).values(step=5))
    await as_(chat, "xiaozhang", f"/join {code}")
    assert "没听懂" in to(await as_(chat, "xiaozhang", "会议开了吗"), "xiaozhang")
    await chat.say("/meeting_open")
    assert "已经在进行中" in await chat.text_of("/meeting_open")
    outsider = await as_(chat, "xiaoli", "我也来说一句")
    assert "没听懂" in to(outsider, "xiaoli") and to(outsider, "xiaozhang") == ""
    for n in range(12):
        await chat.say(f"第 {n + 1} 点")
    [first] = await as_(chat, "xiaozhang", "/transcript")
    assert "第 1/2 页" in first["text"] and "#10【" in first["text"] and "#11" not in first["text"]
    assert payloads(first) == [f"tr:{bs.id}:2", f"wm:{bs.id}"]
    [second] = await as_(chat, "xiaozhang", {"press": f"tr:{bs.id}:2"})
    assert "#12【职工方·工会主席】陈主席：第 12 点" in second["text"]
    assert payloads(second) == [f"tr:{bs.id}:1", f"wm:{bs.id}"]
    assert "还没有加入" in to(await as_(chat, "xiaoli", {"press": f"tr:{bs.id}:1"}), "xiaoli")
    await chat.say("/meeting_close")
    assert "第 6 步" in await chat.text_of("/next")
    assert "没听懂" in await chat.text_of("会后补充一句")


async def test_a_meeting_reopened_by_an_officer_must_be_held_again(app: App) -> None:
    chat = Chat(app, "chair")
    bs, _ = await running_session(app, chat, step=5)
    await chat.say("/meeting_open")
    await chat.say("/meeting_close")
    await chat.say("/next")
    await as_(chat, "officer", f"/bg_reopen {bs.id} 5 会议记录不全")
    assert "开完协商会议" in await chat.text_of("/next")
    assert "没听懂" in await chat.text_of("补充发言")
    assert "会议开始了" in await chat.text_of("/meeting_open")


async def test_an_employer_named_early_gets_the_offer_when_it_is_sent(app: App) -> None:
    chat = Chat(app, "chair")
    bs, _ = await running_session(app, chat, step=3)
    employer = await member_id(app, "employer")
    early = await chat.say(f"/employer {employer}")
    assert "会议开始后" in to(early, "employer")
    assert "第 4 步才可以" in to(await as_(chat, "employer", f"/accept_offer {bs.id}"), "employer")
    await chat.say("/offer 夜班津贴每班增加 10 元")
    sent = await chat.say("/next")
    assert "夜班津贴每班增加 10 元" in to(sent, "employer")
    assert "只有这次协商的企业方" in to(await as_(chat, "xiaozhang", "/accept_offer"), "xiaozhang")
    await as_(chat, "employer", "/accept_offer")
    assert "第 5 步" in await chat.text_of("/next")
    await as_(chat, "officer", f"/bg_reopen {bs.id} 3 要约要改")
    async with app.sessions() as session:
        again = await session.get(BargainingSession, bs.id)
        assert again is not None and again.offer_accepted_at is None
