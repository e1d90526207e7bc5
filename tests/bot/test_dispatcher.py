"""The core's promises: one transaction per message, role checks in one place, messages to
other members written to the outbox with the message's changes, in their language, and
sent by the sender that runs their channel."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.channels.base import RecipientBlocked
from bot.context import Context
from bot.dispatcher import Dispatcher
from bot.i18n import Translations
from bot.messages import Incoming, Outgoing
from bot.router import Router
from bot.sender import Sender
from bot.settings import LANGUAGES
from storage import members
from storage.models import Delivery, Enterprise, Identity, Role
from tests.conftest import Chat, with_routers
from unionbot.app import service_routers

test_router = Router("test")


@test_router.command("explode")
async def explode(ctx: Context) -> None:
    ctx.session.add(Enterprise(name="半途而废有限公司", city="杭州"))
    await ctx.session.flush()
    ctx.send(1, lambda t: Outgoing("never sent"))
    raise RuntimeError("boom")


@test_router.command("officers_only", role=Role.OFFICER)
async def officers_only(ctx: Context) -> None:
    ctx.reply("secret officer business")


@test_router.command("greet")
async def greet(ctx: Context) -> None:
    """``/greet NAME`` sends NAME the menu title in NAME's own language."""
    async with ctx.session.begin_nested():
        target = await members.find_member(ctx.session, ctx.args)
    assert target is not None
    ctx.send(target.id, lambda t: Outgoing(t("menu.title")))
    ctx.reply("sent")


@test_router.command("secret", private=True)
async def private_profile(ctx: Context) -> None:
    ctx.reply("your private profile")


@pytest.fixture
def dispatcher(app: App) -> Dispatcher:
    return with_routers(app, test_router)


async def test_a_failing_handler_writes_nothing_and_apologises_with_a_reference(
    app: App, dispatcher: Dispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    chat = Chat(app, "xiaoming")
    await chat.say("/menu")
    with caplog.at_level(logging.ERROR):
        [apology] = await chat.say("/explode")
    match = re.search(r"编号 ([0-9a-f]{8})", apology["text"])
    assert match, apology["text"]
    assert f"ref={match.group(1)}" in caplog.text
    assert "boom" in caplog.text
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Enterprise)) == 0


async def test_the_first_message_of_a_new_member_failing_creates_no_member(
    app: App, dispatcher: Dispatcher
) -> None:
    await Chat(app, "newcomer").say("/explode")
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Identity)) == 0


async def test_a_member_without_the_role_is_refused_clearly(
    app: App, dispatcher: Dispatcher
) -> None:
    chat = Chat(app, "xiaoming")
    refusal = await chat.text_of("/officers_only")
    assert "只对工会干部开放" in refusal
    async with app.sessions() as session, session.begin():
        member = await members.find_member(session, "xiaoming")
        assert member is not None
        await members.grant_role(session, member.id, Role.OFFICER)
    assert await chat.text_of("/officers_only") == "secret officer business"


async def test_an_admin_passes_every_role_check(app: App, dispatcher: Dispatcher) -> None:
    chat = Chat(app, "boss")
    await chat.say("/menu")
    async with app.sessions() as session, session.begin():
        member = await members.find_member(session, "boss")
        assert member is not None
        await members.grant_role(session, member.id, Role.ADMIN)
    assert await chat.text_of("/officers_only") == "secret officer business"


async def test_messages_to_another_console_member_are_printed_in_their_language(
    app: App, dispatcher: Dispatcher
) -> None:
    chat = Chat(app, "xiaoming")
    await chat.say({"as": "amy", "text": "/lang en"})
    messages = await chat.say("/greet amy")
    assert [(m["to"], m["text"]) for m in messages] == [
        ("amy", "Hello! This is the workers' service desk. Please choose:"),
        ("xiaoming", "sent"),
    ]


async def test_messages_for_an_absent_channel_wait_in_the_outbox(
    app: App, dispatcher: Dispatcher
) -> None:
    """A member on Telegram gets the message once a sender that runs Telegram looks."""
    await dispatcher.handle(Incoming("telegram", "555", "555", text="/menu", language="en"))
    [sent] = await Chat(app, "xiaoming").say("/greet telegram:555")
    assert sent == {"to": "xiaoming", "text": "sent", "buttons": [], "image": None}
    async with app.sessions() as session:
        waiting = (await session.scalars(select(Delivery))).all()
    assert [(w.status, w.body["text"]) for w in waiting] == [
        ("pending", "Hello! This is the workers' service desk. Please choose:")
    ]

    class Telegram:
        name = "telegram"

        def __init__(self) -> None:
            self.sent: list[tuple[str, str]] = []

        async def send(self, external_id: str, message: Outgoing) -> None:
            self.sent.append((external_id, message.text))

    telegram = Telegram()
    app.outbox.attach(telegram)
    await Sender(app).send_all()
    await Sender(app).send_all()
    assert telegram.sent == [("555", "Hello! This is the workers' service desk. Please choose:")]


async def test_waiting_console_messages_are_printed_when_that_member_starts_a_chat(
    app: App, dispatcher: Dispatcher
) -> None:
    await Chat(app, "xiaoli").say("/menu")
    await dispatcher.handle(Incoming("console", "xiaoming", "xiaoming", text="/greet xiaoli"))
    later = Chat(app, "xiaoli")
    [waiting] = await later.start()
    assert waiting["to"] == "xiaoli" and "请选择" in waiting["text"]
    assert await later.start() == []


async def test_a_recipient_who_blocked_the_bot_is_marked_inactive(
    app: App, dispatcher: Dispatcher
) -> None:
    class BlockedChannel:
        name = "blocked"

        async def send(self, external_id: str, message: Outgoing) -> None:
            raise RecipientBlocked(external_id)

    app.outbox.attach(BlockedChannel())
    await dispatcher.handle(Incoming("blocked", "9", "9", text="/menu"))
    await Chat(app, "xiaoming").say("/greet blocked:9")
    await Sender(app).send_all()
    async with app.sessions() as session:
        identity = await session.scalar(select(Identity).where(Identity.channel == "blocked"))
        assert identity is not None and identity.active is False
        assert await members.preferred_identity(session, identity.member_id) is None
    await dispatcher.handle(Incoming("blocked", "9", "9", text="/menu"))
    async with app.sessions() as session:
        identity = await session.scalar(select(Identity).where(Identity.channel == "blocked"))
        assert identity is not None and identity.active is True


async def test_private_commands_in_a_group_point_to_a_private_chat(
    app: App, dispatcher: Dispatcher
) -> None:
    [reply] = await dispatcher.handle(
        Incoming("telegram", "7", "-100", text="/secret", is_group=True)
    )
    assert "私聊" in reply.text
    [private] = await dispatcher.handle(Incoming("telegram", "7", "7", text="/secret"))
    assert private.text == "your private profile"


def test_two_routers_claiming_one_command_fail_at_start_up(app: App) -> None:
    clash = Router("clash")

    @clash.command("menu")
    async def another_menu(ctx: Context) -> None:
        pass

    with pytest.raises(ValueError, match="menu"):
        Dispatcher(
            app.settings,
            app.sessions,
            Translations(LANGUAGES),
            app.outbox,
            [*service_routers(), clash],
        )
