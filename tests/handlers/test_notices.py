"""Notices: an officer composes, previews and sends one to an audience; members browse
notices and ask to be reminded before a deadline."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.broadcasting import expand_pending
from bot.settings import Settings
from storage.models import Broadcast, Delivery, Enterprise, Member, Notice, ReminderSubscription
from storage.seed import demo_files, import_file
from storage.types import utcnow
from tests.conftest import Chat, payloads


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """No quiet hours, so what is sent goes out whatever the time of the test run."""
    return Settings(  # type: ignore[call-arg]
        database_url=database_url, key_dir=tmp_path / "keys", quiet_hours="", _env_file=None
    )


async def load_demo(app: App) -> None:
    async with app.sessions() as session, session.begin():
        for path in demo_files():
            await import_file(session, path)


async def compose(officer: Chat, answers: list[str | dict[str, Any]]) -> list[dict[str, Any]]:
    await officer.say("/notice")
    said: list[dict[str, Any]] = []
    for answer in answers:
        said = await officer.say(answer)
    return said


async def expanded(app: App, chat: Chat) -> list[dict[str, Any]]:
    """What the console prints once the leader has written the broadcasts' rows."""
    await expand_pending(app)
    await chat.channel.deliver_waiting()
    return chat._take()


STANDARD = [
    "坎墩街道工会冬季送温暖",
    "12月5日上午在街道文化站发放慰问品，请带好工会会员证。",
    "跳过",
    "跳过",
    "跳过",
]


async def test_an_officer_sends_to_a_town_and_only_its_members_receive_it(app: App) -> None:
    await load_demo(app)
    officer = Chat(app, "officer")
    said = await compose(officer, STANDARD)
    choices = said[-1]["text"]
    assert "坎墩街道的会员" in choices and "全体会员" in choices
    assert "f:c:town:坎墩街道" in payloads(said[-1])
    await officer.say({"press": "f:c:town:坎墩街道"})
    intro, preview, confirm = await officer.say("跳过")
    assert "预览" in intro["text"]
    assert preview["text"].startswith("📢 坎墩街道工会冬季送温暖")
    assert "坎墩街道的会员（现在 1 人）" in confirm["text"] and "马上" in confirm["text"]
    [done] = await officer.say({"press": "f:ok"})
    assert "正在发送给约 1 位会员" in done["text"]
    async with app.sessions() as session:
        assert await session.scalar(select(func.count(Delivery.id))) == 0, "answered at once"
    received = await expanded(app, officer)
    assert [m["to"] for m in received] == ["amy"]
    assert received[0]["text"] == preview["text"].replace(
        "坎墩街道工会冬季送温暖", "坎墩街道工会冬季送温暖"
    )


async def test_each_member_gets_the_notice_in_their_language_and_the_preview_matches(
    app: App,
) -> None:
    await load_demo(app)
    officer = Chat(app, "officer")
    await compose(officer, [*STANDARD, {"press": "f:c:all:"}])
    _, preview, _ = await officer.say("跳过")
    await officer.say("1")
    received = {m["to"]: m for m in await expanded(app, officer)}
    assert set(received) >= {"xiaoli", "xiaozhang", "amy", "chair", "officer"}
    assert received["xiaoli"]["text"] == preview["text"]
    assert received["xiaoli"]["buttons"] == preview["buttons"]


async def test_a_notice_with_a_deadline_and_link_sent_later_is_scheduled(app: App) -> None:
    await load_demo(app)
    officer = Chat(app, "officer")
    answers = [
        "技能运动会报名",
        "请通过企业工会报名。",
        "ftp://nope",
        "https://example.org/sign-up",
        "跳过",
        "下周五",
        "2030-12-10 17:00",
        {"press": "f:c:language:en"},
        "2030-12-01 09:00",
    ]
    said = await compose(officer, answers[:3])
    assert "https://" in said[0]["text"]
    for answer in answers[3:6]:
        said = await officer.say(answer)
    assert "2026-12-20 17:00" in said[0]["text"]
    for answer in answers[6:]:
        said = await officer.say(answer)
    _, preview, confirm = said
    assert "截止时间：2030-12-10 17:00" in preview["text"]
    assert {"label": "打开链接", "url": "https://example.org/sign-up"} in preview["buttons"][0]
    assert "2030-12-01 09:00" in confirm["text"]
    [done] = await officer.say({"press": "f:ok"})
    assert "2030-12-01 09:00" in done["text"]
    jobs = app.jobs.scheduler.get_jobs()
    assert [job.id for job in jobs] == ["notice:6:20301201T010000Z"]
    async with app.sessions() as session:
        assert await session.scalar(select(func.count(Delivery.id))) == 0
    assert "技能运动会报名" not in await Chat(app, "xiaoli").text_of("/notices")
    assert "⏳ “技能运动会报名” 定时 2030-12-01 09:00 发送" in await officer.text_of("/broadcasts")
    assert "最近的发送" not in await Chat(app, "xiaoli").text_of({"press": "bc"})


async def test_members_cannot_compose_and_bad_answers_are_refused(app: App) -> None:
    await load_demo(app)
    assert "干部" in await Chat(app, "xiaoli").text_of("/notice")
    officer = Chat(app, "officer")
    said = await compose(officer, ["温州“尊崇劳模联盟”成立", "正文正文", "跳过", "跳过"])
    assert "格式" in (await officer.say("明天"))[0]["text"]
    await officer.say("2020-01-01 08:00")
    await officer.say({"press": "f:c:all:"})
    await officer.say("跳过")
    refused = await officer.text_of({"press": "f:ok"})
    assert "截止时间已经过了" in refused
    assert said


async def test_members_browse_notices_page_by_page(app: App) -> None:
    await load_demo(app)
    member = Chat(app, "xiaoli")
    [page] = await member.say("/notices")
    assert "第 1/1 页" in page["text"]
    assert page["text"].index("浙江华夏拍卖") < page["text"].index("建德")
    async with app.sessions() as session, session.begin():
        for n in range(4):
            session.add(Notice(title=f"通知{n}", body="正文"))
    [first] = await member.say("/notices")
    assert "第 1/2 页" in first["text"] and "np:1" in payloads(first)
    [second] = await member.say({"press": "np:1"})
    assert "第 2/2 页" in second["text"] and "np:0" in payloads(second)
    auction = next(p for p in payloads(second) + payloads(first) if p.startswith("n:"))
    [opened] = await member.say({"press": auction})
    assert opened["text"].startswith("📢")
    assert "没有了" in await member.text_of({"press": "n:999"})


async def test_remind_me_schedules_one_job_per_notice_and_time(app: App) -> None:
    await load_demo(app)
    async with app.sessions() as session:
        auction = await session.scalar(
            select(Notice).where(Notice.title == "浙江华夏拍卖有限公司涉案财物拍卖公告")
        )
        assert auction is not None
    [opened] = await Chat(app, "xiaoli").say({"press": f"n:{auction.id}"})
    assert "截止时间：2026-12-20 17:00" in opened["text"]
    assert f"nrem:{auction.id}" in payloads(opened)
    said = await Chat(app, "xiaoli").text_of({"press": f"nrem:{auction.id}"})
    assert "2026-12-19 17:00, 2026-12-20 15:00" in said
    assert "已经设好" in await Chat(app, "xiaoli").text_of({"press": f"nrem:{auction.id}"})
    await Chat(app, "amy").say({"press": f"nrem:{auction.id}"})
    jobs = sorted(job.id for job in app.jobs.scheduler.get_jobs())
    assert jobs == [
        f"notice_deadline:{auction.id}:20261219T090000Z",
        f"notice_deadline:{auction.id}:20261220T070000Z",
    ]
    async with app.sessions() as session:
        assert await session.scalar(select(func.count(ReminderSubscription.id))) == 2


async def test_remind_me_is_refused_without_a_deadline_or_when_too_late(app: App) -> None:
    await load_demo(app)
    async with app.sessions() as session, session.begin():
        news = await session.scalar(select(Notice).where(Notice.title.like("温州%")))
        assert news is not None
        soon = Notice(title="马上截止", body="正文", deadline=utcnow() + timedelta(hours=1))
        session.add(soon)
        await session.flush()
    member = Chat(app, "xiaoli")
    assert "没有截止时间" in await member.text_of({"press": f"nrem:{news.id}"})
    assert "来不及" in await member.text_of({"press": f"nrem:{soon.id}"})
    assert app.jobs._scheduler is None or app.jobs.scheduler.get_jobs() == []


async def test_a_title_already_used_is_refused_at_confirmation(app: App) -> None:
    await load_demo(app)
    officer = Chat(app, "officer")
    await compose(officer, ["温州“尊崇劳模联盟”成立", "正文正文", "跳过", "跳过", "跳过"])
    await officer.say({"press": "f:c:all:"})
    await officer.say("跳过")
    assert "同样标题" in await officer.text_of({"press": "f:ok"})
    async with app.sessions() as session:
        assert await session.scalar(select(func.count(Delivery.id))) == 0


async def test_a_notice_image_must_be_a_web_address_not_a_server_file(app: App) -> None:
    await load_demo(app)
    officer = Chat(app, "officer")
    await compose(officer, ["温州“尊崇劳模联盟”成立", "正文正文", "跳过"])
    refused = await officer.text_of("keys/model_worker_ed25519.pem")
    assert "https://" in refused and "图片" in refused
    asked_deadline = await officer.text_of("https://example.org/laomo.png")
    assert "截止" in asked_deadline


async def test_an_enterprise_among_a_thousand_is_found_by_part_of_its_name(app: App) -> None:
    await load_demo(app)
    async with app.sessions() as session, session.begin():
        for n in range(40):
            enterprise = Enterprise(name=f"宁海第{n:02d}模具厂", city="宁波")
            session.add(enterprise)
            await session.flush()
            session.add_all(
                Member(
                    display_name=f"工人{n}-{k}",
                    language="zh_CN",
                    enterprise_id=enterprise.id,
                    enterprise_status="verified" if k < n % 4 else "pending",
                )
                for k in range(3)
            )
    officer = Chat(app, "officer")
    asked = (await compose(officer, STANDARD))[-1]["text"]
    assert asked.count("模具厂") <= 8, "a few to start with, never all 40"
    assert "输入名称中的几个字" in asked
    assert "没有找到含“铸造”" in await officer.text_of("铸造")
    found = await officer.say("第3")
    assert "找到" in found[0]["text"]
    assert found[-1]["text"].count("宁海第3") == 8 and "第29" not in found[-1]["text"]
    one = (await officer.say("第37"))[-1]
    assert "1. 宁海第37模具厂" in one["text"] and "f:c:enterprise:" in str(payloads(one))
    await officer.say("1")
    _, _, confirm = await officer.say("跳过")
    assert "宁海第37模具厂的职工（现在 1 人）" in confirm["text"], "verified members, counted"


async def test_a_town_too_long_for_a_button_is_still_offered_by_its_number(app: App) -> None:
    await load_demo(app)
    town = "浙江省宁波市慈溪市坎墩街道沈五村第二十组"
    async with app.sessions() as session, session.begin():
        session.add(Member(display_name="远村", language="zh_CN", town=town))
    officer = Chat(app, "officer")
    asked = (await compose(officer, STANDARD))[-1]
    line = next(row for row in asked["text"].splitlines() if town in row)
    assert all(town not in payload for payload in payloads(asked))
    await officer.say(line.split(".")[0])
    _, _, confirm = await officer.say("跳过")
    assert f"{town}的会员（现在 1 人）" in confirm["text"]


async def test_an_urgent_notice_says_so_and_its_rows_are_urgent(app: App) -> None:
    await load_demo(app)
    officer = Chat(app, "officer")
    await officer.say("/notice 紧急")
    for answer in [*STANDARD, {"press": "f:c:all:"}]:
        await officer.say(answer)
    _, _, confirm = await officer.say("跳过")
    assert "⚠️ 紧急通知" in confirm["text"]
    await officer.say({"press": "f:ok"})
    received = await expanded(app, officer)
    async with app.sessions() as session:
        notice = await session.scalar(select(Notice).where(Notice.title == STANDARD[0]))
        broadcast = await session.scalar(select(Broadcast).where(Broadcast.notice_id == notice.id))
        bodies = list(await session.scalars(select(Delivery.body)))
    assert notice is not None and notice.urgent
    assert broadcast is not None and broadcast.urgent
    assert bodies and all(b["urgent"] is True and b["kind"] == "notice" for b in bodies)
    assert any(m.get("to") == "xiaoli" for m in received)


async def test_an_urgent_notice_sent_later_is_urgent_when_it_goes(app: App) -> None:
    from bot.reminders import bind, fire

    await load_demo(app)
    officer = Chat(app, "officer")
    await officer.say("/notice urgent")
    for answer in [*STANDARD, {"press": "f:c:all:"}, "2030-12-01 09:00"]:
        await officer.say(answer)
    await officer.say({"press": "f:ok"})
    async with app.sessions() as session:
        notice_id = await session.scalar(select(Notice.id).where(Notice.title == STANDARD[0]))
    assert notice_id is not None
    bind(app)
    try:
        await fire("notice", notice_id, "20301201T010000Z")
    finally:
        bind(None)
    async with app.sessions() as session:
        broadcast = await session.scalar(select(Broadcast).where(Broadcast.notice_id == notice_id))
    assert broadcast is not None and broadcast.urgent
