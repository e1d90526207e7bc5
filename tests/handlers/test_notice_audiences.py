"""A notice is shown only to its audience: in the list, when opened by its id, for "remind
me", and in the deadline reminder; every registered audience answers "does this member
belong" the same way as it resolves the recipients."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot import audience, reminders
from bot.app import App
from bot.broadcasting import expand_pending
from handlers.notices import DEADLINE_KIND
from storage.models import Broadcast, Delivery, Enterprise, Member, Notice
from storage.models.benefits import ModelWorker
from storage.models.events import Event
from storage.types import utcnow
from tests.conftest import Chat, payloads
from tests.handlers.test_notices import load_demo, settings
from tests.singles import member_id

__all__ = ["settings"]

GONE = "没有了"


def gone(text: str) -> bool:
    """The answer for a notice that is not there, in Chinese or English (amy)."""
    return GONE in text or "no longer here" in text


async def add_notice(app: App, title: str, name: str, value: str) -> int:
    async with app.sessions() as session, session.begin():
        notice = Notice(
            title=title,
            body="正文",
            audience=name,
            audience_value=value,
            deadline=utcnow() + timedelta(days=3),
        )
        session.add(notice)
        await session.flush()
        return notice.id


async def listed(app: App, name: str) -> str:
    return await Chat(app, name).text_of("/notices")


async def test_a_town_notice_is_listed_and_opened_only_in_that_town(app: App) -> None:
    await load_demo(app)
    async with app.sessions() as session:
        cixi = await session.scalar(select(Notice).where(Notice.title.like("慈溪市第十八届%")))
    assert cixi is not None and cixi.audience == "town"

    amy = Chat(app, "amy")
    [page] = await amy.say("/notices")
    assert f"n:{cixi.id}" in payloads(page)
    assert (await amy.text_of({"press": f"n:{cixi.id}"})).startswith("📢 慈溪市第十八届")

    xiaoli = Chat(app, "xiaoli")
    [page] = await xiaoli.say("/notices")
    assert "慈溪市第十八届" not in page["text"]
    assert f"n:{cixi.id}" not in payloads(page)
    assert GONE in await xiaoli.text_of({"press": f"n:{cixi.id}"})
    assert GONE in await xiaoli.text_of({"press": f"nrem:{cixi.id}"})
    assert app.jobs._scheduler is None or app.jobs.scheduler.get_jobs() == []


async def test_enterprise_event_and_model_worker_notices_reach_only_their_members(
    app: App,
) -> None:
    await load_demo(app)
    laomo_id = await member_id(app, "laomo")
    async with app.sessions() as session, session.begin():
        jiande = await session.scalar(
            select(Enterprise.id).where(Enterprise.name == "建德市新安江机械有限公司")
        )
        market = await session.scalar(select(Event.id).where(Event.title.like("%新春手作市集")))
        await session.execute(
            update(ModelWorker).where(ModelWorker.name == "王建明").values(member_id=laomo_id)
        )
    assert jiande is not None and market is not None
    factory = await add_notice(app, "新安江机械厂务公开", "enterprise", str(jiande))
    fair = await add_notice(app, "手作市集集合地点", "event", str(market))
    honour = await add_notice(app, "劳模疗休养报名", "model_workers", "")
    assert "报名成功" in await Chat(app, "xiaoli").text_of({"press": f"ev:s:{market}"})

    assert "新安江机械厂务公开" in await listed(app, "xiaoli")
    assert "手作市集集合地点" in await listed(app, "xiaoli")
    assert "劳模疗休养报名" not in await listed(app, "xiaoli")
    laomo = await listed(app, "laomo")
    assert "劳模疗休养报名" in laomo and "新安江机械厂务公开" not in laomo
    for outsider in ("xiaozhang", "amy"):
        text = await listed(app, outsider)
        assert "新安江机械厂务公开" not in text and "手作市集集合地点" not in text
        for notice in (factory, fair, honour):
            assert gone(await Chat(app, outsider).text_of({"press": f"n:{notice}"}))
    assert (await Chat(app, "laomo").text_of({"press": f"n:{honour}"})).startswith("📢")


async def test_the_deadline_reminder_skips_a_subscriber_who_left_the_audience(app: App) -> None:
    await load_demo(app)
    notice = await add_notice(app, "坎墩街道送温暖", "town", "坎墩街道")
    assert "remind you" in await Chat(app, "amy").text_of({"press": f"nrem:{notice}"})
    amy = await member_id(app, "amy")
    assert await reminded(app, notice, "first") == [amy]
    async with app.sessions() as session, session.begin():
        await session.execute(update(Member).where(Member.id == amy).values(town="逍林镇"))
    assert await reminded(app, notice, "second") == []


async def reminded(app: App, notice: int, due: str) -> list[int]:
    """Who the notice's deadline reminder is written for when it fires (at ``due``)."""
    reminders.bind(app)
    await reminders.fire(DEADLINE_KIND, notice, due)
    await expand_pending(app)
    async with app.sessions() as session:
        return list(
            await session.scalars(
                select(Delivery.member_id)
                .join(Broadcast, Broadcast.id == Delivery.broadcast_id)
                .where(Broadcast.key == f"{DEADLINE_KIND}:{notice}:{due}")
            )
        )


async def test_every_audience_answers_membership_as_it_resolves_recipients(app: App) -> None:
    """One condition per audience serves both: what the sender reaches is exactly who may
    open the notice, for every registered audience and each of its values."""
    await load_demo(app)
    t = app.dispatcher.translations["zh_CN"]
    async with app.sessions() as session:
        everyone = list(await session.scalars(select(Member.id)))
        offered = await audience.choices(session, t)
        assert {audience.split(choice)[0] for choice, _ in offered} == set(audience.AUDIENCES)
        for choice, _ in offered:
            name, value = audience.split(choice)
            recipients = set(await audience.resolve(session, name, value))
            members = {m for m in everyone if await audience.belongs(session, m, name, value)}
            assert members == recipients, choice
        assert not await audience.belongs(session, everyone[0], "nobody", "")
