"""Reminders: one job per thing and time, kept in the database, fanned out when it fires;
a burst due in the same second all runs; a reminder missed while the bot was down is sent
once when it comes back; scheduling from a message happens only if the message commits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import reminders
from bot.app import App
from bot.broadcasting import expand_pending
from bot.context import Context, MessageBuilder
from bot.dispatcher import Dispatcher
from bot.messages import Incoming
from bot.router import Router
from bot.settings import Settings
from storage.models import Broadcast, Delivery, Member, Notice
from storage.types import utcnow
from tests.conftest import Chat, with_routers
from tests.test_cli import unionbot
from unionbot.app import build_app

FIRED: list[int] = []


async def record_burst(
    app: App, session: AsyncSession, thing_id: int
) -> list[tuple[int, MessageBuilder]]:
    FIRED.append(thing_id)
    return []


burst = Router("test-burst")
burst.reminder("test_burst")(record_burst)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[App]:
    """The bot with a test service that declares the ``test_burst`` reminder kind."""
    application = build_app(settings)
    with_routers(application, burst)
    yield application
    await application.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        database_url=database_url, key_dir=tmp_path / "keys", quiet_hours="", _env_file=None
    )


async def wait_for(condition, seconds: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds * 10)):
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out waiting")


async def count(app: App, model: type) -> int:  # type: ignore[type-arg]
    async with app.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_many_jobs_due_in_the_same_second_all_run(app: App) -> None:
    FIRED.clear()
    due = (utcnow() + timedelta(seconds=3)).replace(microsecond=0)
    await app.jobs.apply([("test_burst", n, due) for n in range(400)], [])
    reminders.bind(app)
    app.jobs.lead()

    async def all_fired() -> bool:
        return await count(app, Broadcast) == 400

    await wait_for(all_fired)
    assert sorted(FIRED) == list(range(400))
    assert app.jobs.scheduler.get_jobs() == []


async def notice_due_in(app: App, seconds: int) -> Notice:
    async with app.sessions() as session, session.begin():
        notice = Notice(
            title="建德青年交友活动报名",
            body="报名从速",
            deadline=utcnow() + timedelta(hours=24, seconds=seconds),
        )
        session.add(notice)
    return notice


async def test_a_reminder_survives_a_restart_and_fires_once(settings: Settings) -> None:
    first = build_app(settings)
    notice = await notice_due_in(first, 3)
    said = await Chat(first, "xiaoli").text_of({"press": f"nrem:{notice.id}"})
    assert "截止前会提醒您" in said
    await first.close()

    listed = unionbot("jobs", url=settings.database_url).stdout.decode()
    assert f"notice_deadline:{notice.id}:" in listed and "notice_deadline reminder" in listed
    await asyncio.sleep(3.5)  # the bot is down when the reminder falls due

    for _ in range(2):
        app = build_app(settings)
        try:
            member = Chat(app, "xiaoli")
            reminders.bind(app)
            app.jobs.lead()

            async def fired(app: App = app) -> bool:
                return await count(app, Broadcast) >= 1

            await wait_for(fired)
            await expand_pending(app)
            await member.channel.deliver_waiting()
            received = [m for m in member._take() if m["to"] == "xiaoli"]
            if _ == 0:
                assert len(received) == 1 and "⏰" in received[0]["text"]
                assert "建德青年交友活动报名" in received[0]["text"]
            else:
                assert received == []
            assert await count(app, Delivery) == 1
        finally:
            await app.close()
    after = unionbot("jobs", url=settings.database_url).stdout.decode()
    assert after.count(f"notice_deadline:{notice.id}:") == 1  # only the 2 h one is left


async def test_a_job_run_again_does_not_send_again(app: App) -> None:
    notice = await notice_due_in(app, 3600)
    await Chat(app, "xiaoli").say({"press": f"nrem:{notice.id}"})
    await Chat(app, "amy").say({"press": f"nrem:{notice.id}"})
    await Chat(app, "amy").say({"press": "set:rem"})
    reminders.bind(app)
    await reminders.fire("notice_deadline", notice.id, "20261201T000000Z")
    await expand_pending(app)
    await reminders.fire("notice_deadline", notice.id, "20261201T000000Z")
    await expand_pending(app)
    assert await count(app, Broadcast) == 1
    assert await count(app, Delivery) == 1  # amy switched reminders off


async def test_cancelling_removes_a_things_reminders(app: App) -> None:
    when = utcnow() + timedelta(days=2)
    await app.jobs.schedule_reminder("notice_deadline", 7, when)
    await app.jobs.schedule_reminder("notice_deadline", 7, when + timedelta(hours=22))
    await app.jobs.schedule_reminder("notice_deadline", 70, when)
    assert await app.jobs.cancel_reminders("notice_deadline", 7) == 2
    assert next(job.id for job in app.jobs.scheduler.get_jobs()).startswith("notice_deadline:70:")


async def test_thousands_of_reminders_are_scheduled_and_cancelled_in_bulk(
    app: App, settings: Settings
) -> None:
    start = utcnow().replace(microsecond=0) + timedelta(days=3)
    scheduled = [
        ("notice_deadline", n, start + timedelta(minutes=n % 97, hours=h))
        for n in range(1, 1001)
        for h in (0, 22)
    ]
    await app.jobs.apply(scheduled, [])
    await app.jobs.apply(scheduled[:10], [])  # again: replaced, not doubled
    jobs = app.jobs.scheduler.get_jobs()
    assert len(jobs) == 2000
    assert sorted(j.id for j in jobs) == sorted(reminders.job_id(*r) for r in scheduled)
    assert all(j.next_run_time == reminders_due(j.args[2]) for j in jobs)
    await app.jobs.apply([], [("notice_deadline", n) for n in range(1, 1001, 2)])
    left = {job.args[1] for job in app.jobs.scheduler.get_jobs()}
    assert left == set(range(2, 1001, 2)), "exactly the cancelled things' jobs went"
    assert await app.jobs.cancel_reminders("notice_deadline", 10) == 2
    assert await app.jobs.cancel_reminders("notice_deadline", 1) == 0
    assert 100 in {job.args[1] for job in app.jobs.scheduler.get_jobs()}
    listed = unionbot("jobs", url=settings.database_url).stdout.decode().splitlines()
    assert len(listed) == 998
    times = [line.split("\t")[1] for line in listed]
    assert times == sorted(times), "soonest first"


def reminders_due(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


async def test_a_reminder_added_while_leading_fires_without_waiting_for_a_wakeup(
    app: App,
) -> None:
    FIRED.clear()
    reminders.bind(app)
    app.jobs.lead()
    await asyncio.sleep(0.2)
    await app.jobs.schedule_reminder("test_burst", 5, utcnow() + timedelta(seconds=1))

    async def fired() -> bool:
        return FIRED == [5]

    await wait_for(fired, seconds=app.settings.scheduler_wakeup_seconds - 2)


async def test_a_message_that_fails_schedules_nothing(app: App) -> None:
    router = Router("test")

    @router.command("plan")
    async def plan(ctx: Context) -> None:
        ctx.schedule("test_burst", 1, utcnow() + timedelta(days=1))
        if ctx.args == "fail":
            raise RuntimeError("boom")

    dispatcher = Dispatcher(
        app.settings, app.sessions, app.dispatcher.translations, app.outbox, [router], app.jobs
    )
    [apology] = await dispatcher.handle(Incoming("console", "x", "x", text="/plan fail"))
    assert "编号" in apology.text
    assert app.jobs._scheduler is None or app.jobs.scheduler.get_jobs() == []
    await dispatcher.handle(Incoming("console", "x", "x", text="/plan"))
    assert next(job.id for job in app.jobs.scheduler.get_jobs()).startswith("test_burst:1:")


async def test_a_notice_scheduled_for_later_goes_to_its_audience_once(app: App) -> None:
    async with app.sessions() as session, session.begin():
        for name, town in (("a", "逍林镇"), ("b", "逍林镇"), ("c", "温州")):
            session.add(Member(display_name=name, language="zh_CN", town=town))
        notice = Notice(
            title="逍林镇职工运动会",
            body="周六上午八点集合",
            audience="town",
            audience_value="逍林镇",
            send_at=utcnow() + timedelta(days=1),
        )
        session.add(notice)
    reminders.bind(app)
    await reminders.fire("notice", notice.id, "20261126T010000Z")
    await expand_pending(app)
    await reminders.fire("notice", notice.id, "20261127T010000Z")
    await expand_pending(app)
    assert await count(app, Broadcast) == 1
    assert await count(app, Delivery) == 2


async def test_a_job_of_a_kind_no_router_declares_is_kept_and_logged(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    due = (utcnow() + timedelta(seconds=1)).replace(microsecond=0)
    await app.jobs.schedule_reminder("retired_service", 7, due)
    reminders.bind(app)
    with caplog.at_level(logging.ERROR, logger="bot.reminders"):
        app.jobs.lead()

        async def logged() -> bool:
            return "retired_service:7" in caplog.text

        await wait_for(logged)
        await asyncio.sleep(0.5)
    [job] = app.jobs.scheduler.get_jobs()
    assert job.id == reminders.job_id("retired_service", 7, due)
    assert job.next_run_time is None, "kept, paused"
    listing = unionbot("jobs", url=app.settings.database_url).stdout.decode()
    assert "retired_service:7:" in listing and "paused" in listing
