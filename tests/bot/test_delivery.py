"""One way out, as members notice it: a reply lost to a 429 storm still arrives, a crash
after the commit loses no message to others, quiet hours hold messages to others, a lost
database connection does not turn a delivered message into a failed one, interactive
messages overtake a broadcast, and the sender is woken at once."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.app import App
from bot.background import Background
from bot.broadcasting import publish
from bot.context import Context
from bot.delivery import MessageClass
from bot.messages import Incoming, Outgoing
from bot.pacing import Pacer
from bot.quiet import release_time
from bot.router import Router
from bot.sender import UNPACED_IN_FLIGHT, Sender
from bot.settings import Settings, parse_window
from storage import db, members
from storage.models import Delivery, Member
from storage.types import utcnow
from tests.channels.conftest import make_channel
from tests.channels.fake_telegram import FakeTelegram
from tests.conftest import Chat, with_routers
from tests.handlers.test_bargaining import running_session
from tests.singles import add_event, add_profile
from unionbot.app import build_app

WRITERS = 20
FIRST_USER = 3000


class Recorder:
    """A channel that keeps what it was asked to send."""

    def __init__(self, name: str = "telegram") -> None:
        self.name = name
        self.sent: list[tuple[str, str]] = []

    async def send(self, external_id: str, message: Outgoing) -> None:
        self.sent.append((external_id, message.text))


def tell_everyone() -> Router:
    """``/tell TEXT`` sends TEXT to every other member: a handler's ``ctx.send``."""
    router = Router("test_tell")

    @router.command("tell")
    async def tell(ctx: Context) -> None:
        others = await ctx.session.scalars(select(Member.id).where(Member.id != ctx.member.id))
        for other in others:
            ctx.send(other, lambda t, text=ctx.args: Outgoing(text))
        ctx.reply("已通知")

    return router


async def on_telegram(app: App, *users: int) -> None:
    for user in users:
        await app.dispatcher.handle(Incoming("telegram", str(user), str(user), text="/menu"))


# --- a 429 storm -----------------------------------------------------------------------


def storm_that_loses_replies(fake: FakeTelegram) -> None:
    """30 % of sends answered 429, with a seed under which some members' replies are hit
    twice (the channel's own retry too), which is how replies were lost."""
    fake.storm = 0.3
    for seed in range(100):
        fake.storm_seed = seed
        users = range(FIRST_USER, FIRST_USER + WRITERS)
        if sum(fake.storm_hits(u, 0) and fake.storm_hits(u, 1) for u in users) >= 2:
            return
    raise AssertionError("no seed hits a reply twice")


async def test_under_a_429_storm_every_member_who_wrote_gets_an_answer(
    app: App, fake: FakeTelegram
) -> None:
    channel = make_channel(app, fake)
    await channel.start(webhook=False)
    background = Background(app)
    await background.start()
    try:
        storm_that_loses_replies(fake)
        users = range(FIRST_USER, FIRST_USER + WRITERS)
        for user in users:
            await fake.push(fake.message_update(user, "/start"))
        await fake.wait_for(lambda: all(fake.events_in(u) for u in users))
    finally:
        await background.stop()
        await channel.stop()
    for user in users:
        [menu] = fake.events_in(user)
        assert menu.text == "您好！这里是职工服务平台，请选择："


# --- a crash after the commit ------------------------------------------------------------


class Dying(Recorder):
    """The process dies during its first send (a kill interrupts whatever is awaited)."""

    async def send(self, external_id: str, message: Outgoing) -> None:
        raise asyncio.CancelledError


async def test_messages_to_others_survive_a_crash_after_the_commit(app: App) -> None:
    with_routers(app, tell_everyone())
    await on_telegram(app, 1, 2, 3, 4)
    app.outbox.attach(Dying())
    with contextlib.suppress(asyncio.CancelledError):
        [reply] = await app.dispatcher.handle(
            Incoming("telegram", "1", "1", text="/tell 明早八点开会")
        )
        assert reply.text == "已通知"

    restarted = build_app(app.settings)
    try:
        recorder = Recorder()
        restarted.outbox.attach(recorder)
        await Sender(restarted, {"telegram": Pacer(0)}).send_all()
    finally:
        await restarted.close()
    assert sorted(recorder.sent) == [
        ("2", "明早八点开会"),
        ("3", "明早八点开会"),
        ("4", "明早八点开会"),
    ]


# --- quiet hours -------------------------------------------------------------------------


async def test_quiet_hours_hold_a_message_to_another_member(app: App, chat: Chat) -> None:
    """A place freed late in the evening: the member first on the waitlist is told when
    their quiet hours end, not at once; their own replies still come at once."""
    local = utcnow().astimezone(app.settings.zone)
    window = f"{local - timedelta(hours=1):%H:%M}-{local + timedelta(hours=1):%H:%M}"
    event = await add_event(app, places_total=1)
    for name in ("first", "waiting"):
        await add_profile(app, name, "f", 1996)
        await chat.say({"as": name, "press": f"ev:s:{event}"})
    said = await chat.say({"as": "waiting", "text": f"/settings quiet {window}"})
    assert all(m["to"] == "waiting" for m in said)

    cancelled = await chat.say({"as": "first", "press": f"ev:c:{event}"})
    assert [m["to"] for m in cancelled] == ["first"], "not now: it is their quiet time"
    async with app.sessions() as session:
        [held] = (await session.scalars(select(Delivery))).all()
    assert "转为正式报名" in held.body["text"] and held.status == "pending"
    morning = release_time(utcnow(), parse_window(window), app.settings.zone)
    assert abs((held.not_before - morning).total_seconds()) < 60
    assert "签到码" in await chat.text_of({"as": "waiting", "text": "/myevents"})


# --- a lost database connection ------------------------------------------------------------


class CuttingTheDatabase(Recorder):
    """Delivers, and while the message is on its way the database connection is lost:
    PostgreSQL's server ends every connection of the bot; SQLite is locked for a while."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    async def send(self, external_id: str, message: Outgoing) -> None:
        await super().send(external_id, message)
        if self.url.startswith("postgresql"):
            await asyncio.to_thread(self._end_connections)
        else:
            locked = threading.Event()
            threading.Thread(target=self._lock_for_a_second, args=(locked,)).start()
            await asyncio.to_thread(locked.wait)

    def _end_connections(self) -> None:
        import psycopg

        plain = make_url(self.url).set(drivername="postgresql")
        with psycopg.connect(plain.render_as_string(hide_password=False)) as connection:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )

    def _lock_for_a_second(self, locked: threading.Event) -> None:
        connection = sqlite3.connect(make_url(self.url).database or "", isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(1)
        connection.execute("COMMIT")
        connection.close()


async def test_a_delivered_message_is_recorded_sent_after_the_connection_comes_back(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 100)
    app = build_app(settings)
    try:
        await on_telegram(app, 1)
        async with app.sessions() as session, session.begin():
            member = await members.find_member(session, "telegram:1")
            assert member is not None
            message = (member.id, lambda t: Outgoing("明早八点开会"))
            await app.outbox.write(session, [message], MessageClass.INTERACTIVE, utcnow())
        channel = CuttingTheDatabase(settings.database_url)
        app.outbox.attach(channel)
        sender = Sender(app, {"telegram": Pacer(0)})
        await sender.send_all()
        await sender.send_all()
        async with app.sessions() as session:
            [row] = (await session.scalars(select(Delivery))).all()
    finally:
        await app.close()
    assert channel.sent == [("1", "明早八点开会")]
    assert (row.status, row.reason) == ("sent", None)


# --- priorities and waking -----------------------------------------------------------------


async def test_an_introduction_overtakes_a_broadcast_under_way(app: App) -> None:
    with_routers(app, tell_everyone())
    await on_telegram(app, *range(100, 130))
    async with app.sessions() as session, session.begin():
        everyone = list(await session.scalars(select(Member.id)))
        await publish(
            session,
            app.outbox,
            "test:big",
            [(m, lambda t: Outgoing("通知")) for m in everyone],
            utcnow(),
        )

    class TellingMidway(Recorder):
        """After three sends a member writes ``/tell``; the sends begun meanwhile wait
        until the handler has committed, as they would behind a slow API."""

        def __init__(self) -> None:
            super().__init__()
            self.calls = 0
            self.told = asyncio.Event()

        async def send(self, external_id: str, message: Outgoing) -> None:
            self.calls += 1
            if self.calls > 3:
                await self.told.wait()
            await super().send(external_id, message)
            if self.calls == 3:
                await app.dispatcher.handle(Incoming("telegram", "100", "100", text="/tell 急事"))
                self.told.set()

    channel = TellingMidway()
    app.outbox.attach(channel)
    await Sender(app, {"telegram": Pacer(0)}).send_all()
    texts = [text for _, text in channel.sent]
    assert texts[:3] == ["通知"] * 3
    last = len(texts) - 1 - texts[::-1].index("急事")
    ahead = texts[:last].count("通知")
    assert ahead <= 3 + UNPACED_IN_FLIGHT, "the interactive ones go next, after those in flight"
    assert texts.count("急事") == 29
    assert texts.count("通知") == 30


async def test_the_sender_is_woken_at_once_by_rows_another_process_writes(
    app: App, settings: Settings
) -> None:
    """On PostgreSQL by NOTIFY from the writing process; on SQLite in-process."""
    slow = settings.model_copy(update={"sender_poll_seconds": 30.0})
    leader = build_app(slow)
    writer = build_app(slow) if settings.database_url.startswith("postgresql") else leader
    with_routers(writer, tell_everyone())
    recorder = Recorder()
    leader.outbox.attach(recorder)
    background = Background(leader)
    try:
        await on_telegram(writer, 1, 2)
        await background.start()
        await asyncio.wait_for(background.leadership.leading.wait(), 10)
        await asyncio.sleep(0.5)  # the sender is idle, waiting up to 30 s
        started = time.monotonic()
        await writer.dispatcher.handle(Incoming("telegram", "1", "1", text="/tell 马上到"))
        while not recorder.sent:
            assert time.monotonic() - started < 5, "not woken"
            await asyncio.sleep(0.02)
    finally:
        await background.stop()
        if writer is not leader:
            await writer.close()
        await leader.close()
    assert recorder.sent == [("2", "马上到")]


# --- a watcher who is behind ---------------------------------------------------------------


async def test_a_watcher_who_is_behind_gets_the_statements_since_as_one_message(
    app: App,
) -> None:
    chat = Chat(app, "chair")
    bs, code = await running_session(app, chat, step=5)
    await on_telegram(app, 9)
    async with app.sessions() as session, session.begin():
        watcher = await members.find_member(session, "telegram:9")
        chair = await members.find_member(session, "chair")
        assert watcher is not None and chair is not None
        watcher.enterprise_id, watcher.enterprise_status = chair.enterprise_id, "verified"
    [joined] = await app.dispatcher.handle(Incoming("telegram", "9", "9", text=f"/join {code}"))
    assert bs.title in joined.text
    await chat.say("/meeting_open")
    recorder = Recorder()
    app.outbox.attach(recorder)
    sender = Sender(app, {"telegram": Pacer(0)})
    await sender.send_all()
    [(_, opened)] = recorder.sent
    assert "会议开始了" in opened
    recorder.sent.clear()

    for said in ("我方提出工资平均增长 6%", "夜班津贴也要提高", "请企业方回应"):
        await chat.say(said)
    await sender.send_all()
    [(to, text)] = recorder.sent
    assert to == "9"
    assert text.splitlines() == [
        "#1【职工方·工会主席】陈主席：我方提出工资平均增长 6%",
        "#2【职工方·工会主席】陈主席：夜班津贴也要提高",
        "#3【职工方·工会主席】陈主席：请企业方回应",
    ]
