"""Real-shaped Bot API updates the channel must understand: a member blocking and
unblocking the bot, a command in a forum topic, and an update PTB cannot read."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest
from sqlalchemy import select

from bot.app import App
from bot.channels.telegram import SECRET_HEADER, TelegramChannel
from bot.delivery import MessageClass
from bot.messages import Outgoing
from bot.pacing import Pacer
from bot.sender import Sender
from storage import members
from storage.models import Delivery, Identity
from storage.types import utcnow
from tests.channels.conftest import WEBHOOK_SECRET, make_channel
from tests.channels.fake_telegram import FakeTelegram
from unionbot.web import create_web_app

XIAOMING = 1001
FORUM = -1002233
TOPIC = 42


async def active(app: App, user: int) -> bool:
    async with app.sessions() as session:
        found = await session.scalar(
            select(Identity.active).where(
                Identity.channel == "telegram", Identity.external_id == str(user)
            )
        )
    assert found is not None
    return found


async def until(app: App, user: int, reachable: bool) -> None:
    """Wait for the update to be handled: it has no reply to wait for."""
    deadline = time.monotonic() + 10
    while await active(app, user) is not reachable:
        assert time.monotonic() < deadline, "the update was not handled"
        await asyncio.sleep(0.05)


async def member_of(app: App, user: int) -> int:
    async with app.sessions() as session:
        member = await members.find_member(session, f"telegram:{user}")
    assert member is not None
    return member.id


async def test_a_member_who_blocks_the_bot_gets_nothing_until_they_unblock_it(
    app: App, fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    await fake.say(XIAOMING, "/start")
    await fake.push(fake.chat_member_update(XIAOMING, "kicked"))
    await until(app, XIAOMING, reachable=False)

    message = (await member_of(app, XIAOMING), lambda t: Outgoing("明晚联谊"))
    async with app.sessions() as session, session.begin():
        await app.outbox.write(session, [message], MessageClass.INTERACTIVE, utcnow())
    await Sender(app, {"telegram": Pacer(0)}).send_all()
    assert [e.text for e in fake.events_in(XIAOMING)][1:] == [], "not sent to a blocked chat"
    async with app.sessions() as session:
        [row] = (await session.scalars(select(Delivery))).all()
    assert row.status == "failed" and row.reason == "no active account"

    await fake.push(fake.chat_member_update(XIAOMING, "member"))
    await until(app, XIAOMING, reachable=True)


async def test_a_reply_stays_in_the_forum_topic_it_answers(
    fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    [reply] = await fake.say(XIAOMING, "/help@union_test_bot", chat=FORUM, topic=TOPIC)
    assert reply.chat_id == FORUM and reply.topic == TOPIC
    [menu] = await fake.say(XIAOMING, "/menu@union_test_bot", chat=FORUM, topic=TOPIC)
    assert menu.topic == TOPIC
    [plain] = await fake.say(XIAOMING, "/help")
    assert plain.topic is None


async def test_an_update_ptb_cannot_read_is_logged_and_answered_200(
    app: App, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    channel = make_channel(app, fake)
    await channel.start(webhook=True)
    web = create_web_app(app, [channel])
    headers = {SECRET_HEADER: WEBHOOK_SECRET, "content-type": "application/json"}
    unreadable = b'{"update_id": 77, "message": {"message_id": "x", "chat": 5, "date": []}}'
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(web), base_url="http://bot"
        ) as client:
            with caplog.at_level(logging.WARNING, logger="bot.channels.telegram"):
                response = await client.post("/telegram", content=unreadable, headers=headers)
    finally:
        await channel.stop()
    assert response.status_code == 200
    assert "update 77 not understood" in caplog.text
    assert fake.events_in(XIAOMING) == []
