"""Verified membership: picking an enterprise in /me is a request; only the chair's approval
or a roster match makes a member one of its workers, who votes, follows, reads and is told."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot import audience
from bot.app import App
from storage.models import Enterprise, Member
from storage.seed import SeedError, import_file
from tests.conftest import Chat
from tests.handlers.test_bargaining import as_, load_demo, member_id, running_session, to

ALUMINIUM = "浙江顺虎铝业有限公司"


async def enterprise_id(app: App, name: str = ALUMINIUM) -> int:
    async with app.sessions() as session:
        found = await session.scalar(select(Enterprise.id).where(Enterprise.name == name))
        assert found is not None
        return found


async def pick_enterprise(
    chat: Chat, name: str, real_name: str, enterprise: int, number: str = "跳过"
) -> list[dict[str, object]]:
    """The member fills in /me, picking an enterprise; returns what the last step sent."""
    await as_(chat, name, "/me")
    await as_(chat, name, real_name)
    await as_(chat, name, "永康")
    await as_(chat, name, {"press": f"f:c:{enterprise}"})
    await as_(chat, name, number)
    return await as_(chat, name, {"press": "f:ok"})


async def status_of(app: App, name: str) -> str | None:
    async with app.sessions() as session:
        found = await session.get(Member, await member_id(app, name))
        assert found is not None
        return found.enterprise_status


async def test_newcomers_who_only_pick_an_enterprise_cannot_vote_join_or_read(app: App) -> None:
    chat = Chat(app, "chair")
    bs, code = await running_session(app, chat, step=2)
    aluminium = await enterprise_id(app)
    for n in range(3):
        saved = await pick_enterprise(chat, f"newcomer{n}", f"新人{n}", aluminium)
        assert "已发给本单位工会主席审核" in to(saved, f"newcomer{n}")
        assert "新的入会申请" in to(saved, "chair")
        assert await status_of(app, f"newcomer{n}") == "pending"

    listing = await chat.text_of("/bg_members")
    assert "新人" not in listing and "小张" in listing
    zhang, wang = await member_id(app, "xiaozhang"), await member_id(app, "employer")
    newcomer = await member_id(app, "newcomer0")
    assert "不是本企业" in await chat.text_of(f"/election 1 24 {zhang} {newcomer}")
    opened = await chat.say(f"/election 1 24 {zhang} {wang}")
    assert "已通知 4 位" in to(opened, "chair")  # chair, employer, xiaozhang, xiaowang
    assert to(opened, "newcomer0") == ""
    ballot = int(re.findall(r"v:(\d+):1", str(opened))[0])
    assert "没有投票权" in to(await as_(chat, "newcomer0", f"/vote {ballot} 2"), "newcomer0")
    assert "没有您可以投的票" in to(await as_(chat, "newcomer1", "/vote"), "newcomer1")
    assert "还在审核中" in to(await as_(chat, "newcomer2", f"/join {code}"), "newcomer2")
    refused = await as_(chat, "newcomer2", {"press": f"tr:{bs.id}:1"})
    assert "还没有加入" in to(refused, "newcomer2")
    assert "还没有加入" in to(await as_(chat, "newcomer2", "/transcript"), "newcomer2")
    async with app.sessions() as session:
        told = await audience.resolve(session, "enterprise", str(aluminium))
    assert newcomer not in told and zhang in told


async def test_the_chair_answers_requests_and_the_member_is_told(app: App) -> None:
    chat = Chat(app, "chair")
    _, code = await running_session(app, chat)
    aluminium = await enterprise_id(app)
    await pick_enterprise(chat, "xiaochen", "陈晓", aluminium)
    await pick_enterprise(chat, "xiaosun", "孙立", aluminium)
    assert "只有工会主席或工会干部" in to(await as_(chat, "xiaozhang", "/requests"), "xiaozhang")
    waiting = await chat.say("/requests")
    assert len(waiting) == 2 and "姓名：陈晓" in waiting[0]["text"]
    chen = await member_id(app, "xiaochen")
    assert waiting[0]["buttons"][0][0]["payload"] == f"mr:ok:{chen}"
    approved = await chat.say({"press": f"mr:ok:{chen}"})
    assert "已通过 陈晓" not in to(approved, "chair")  # the display name, not the real one
    assert "已通过 xiaochen 的入会申请" in to(approved, "chair")
    assert "您的入会申请已通过" in to(approved, "xiaochen")
    assert "已经处理过" in await chat.text_of({"press": f"mr:no:{chen}"})
    sun = await member_id(app, "xiaosun")
    for forged in (f"mr:xx:{sun}", f"mr:ok:{sun}:1", "mr:ok", f"mr:ok: {sun}x", f"mr:{sun}"):
        answer = await chat.say({"press": forged})
        assert "这个按钮已失效" in to(answer, "chair") and to(answer, "xiaosun") == "", forged
    assert "没有通过" in to(await chat.say(f"/refuse {sun}"), "xiaosun")
    assert "没有这个编号" in await chat.text_of("/approve 99999")
    other = await member_id(app, "xiaoli")  # another enterprise's worker
    assert "没有这个编号" in await chat.text_of(f"/approve {other}")
    assert "已加入" in to(await as_(chat, "xiaochen", f"/join {code}"), "xiaochen")
    assert "只对本企业" in to(await as_(chat, "xiaosun", f"/join {code}"), "xiaosun")
    officer_view = to(await as_(chat, "officer", "/requests"), "officer")
    assert "没有待审核" in officer_view


async def test_changing_enterprise_drops_the_verification(app: App) -> None:
    chat = Chat(app, "chair")
    _, code = await running_session(app, chat)
    assert await status_of(app, "xiaozhang") == "verified"
    aluminium = await enterprise_id(app)
    await pick_enterprise(chat, "xiaozhang", "张伟", aluminium, "E9999")  # same enterprise
    assert await status_of(app, "xiaozhang") == "verified"
    other = await enterprise_id(app, "永康市众诚五金制品有限公司")
    await pick_enterprise(chat, "xiaozhang", "张伟", other)
    assert await status_of(app, "xiaozhang") == "pending"
    await pick_enterprise(chat, "xiaozhang", "张伟", aluminium)
    assert await status_of(app, "xiaozhang") == "pending"
    assert "还在审核中" in to(await as_(chat, "xiaozhang", f"/join {code}"), "xiaozhang")


async def test_a_roster_match_verifies_at_once_and_keeps_only_keyed_hashes(
    app: App, tmp_path: Path
) -> None:
    await load_demo(app)
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "enterprise,name,employee_number,mobile\n"
        f"{ALUMINIUM},陈晓,E-1002,13800001111\n"
        f"{ALUMINIUM},孙立,,13900002222\n",
        encoding="utf-8",
    )
    async with app.sessions() as session, session.begin():
        assert await import_file(session, roster) == {"roster": 2}
    chat = Chat(app, "chair")
    aluminium = await enterprise_id(app)
    saved = await pick_enterprise(chat, "xiaochen", "陈 晓", aluminium, "138 0000 1111")
    assert "已通过会员名册核验" in to(saved, "xiaochen") and to(saved, "chair") == ""
    assert await status_of(app, "xiaochen") == "verified"
    wrong = await pick_enterprise(chat, "xiaosun", "孙丽", aluminium, "13900002222")
    assert "审核" in to(wrong, "xiaosun") and await status_of(app, "xiaosun") == "pending"
    for answer in ("/me", "孙立", "永康", {"press": f"f:c:{aluminium}"}):
        await as_(chat, "xiaosun", answer)
    assert "只能包含字母" in to(await as_(chat, "xiaosun", "12"), "xiaosun")
    await as_(chat, "xiaosun", "/cancel")
    async with app.engine.connect() as connection:
        for table in ("members", "enterprise_roster", "dialog_states"):
            rows = (await connection.execute(text(f"SELECT * FROM {table}"))).all()
            assert "13800001111" not in str(rows) and "E-1002" not in str(rows), table


async def test_a_bad_roster_line_imports_nothing_and_the_chair_adds_lines_in_chat(
    app: App, tmp_path: Path
) -> None:
    await load_demo(app)
    bad = tmp_path / "roster.csv"
    bad.write_text(f"enterprise,name\n{ALUMINIUM},陈晓\n", encoding="utf-8")
    with pytest.raises(SeedError, match="employee_number or a mobile"):
        async with app.sessions() as session, session.begin():
            await import_file(session, bad)
    chat = Chat(app, "chair")
    aluminium = await enterprise_id(app)
    await pick_enterprise(chat, "xiaochen", "陈晓", aluminium, "E1002")
    assert "请这样写" in await chat.text_of("/roster")
    assert "第 2 行不对" in await chat.text_of("/roster 王五,E1001\n没有号码")
    assert await status_of(app, "xiaochen") == "pending"
    added = await chat.say("/roster 王五,E1001\n陈晓，E1002")
    assert "已导入 2 条" in to(added, "chair") and "1 位" in to(added, "chair")
    assert "您的入会申请已通过" in to(added, "xiaochen")
    assert "工会主席" in to(await as_(chat, "xiaozhang", "/roster 张伟,1234"), "xiaozhang")
