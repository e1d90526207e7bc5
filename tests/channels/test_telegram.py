"""A member on Telegram, through the real python-telegram-bot stack and a fake Bot API:
menus as inline keyboards that edit in place, forms, deep links and group chats."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import App
from bot.channels.telegram import TelegramChannel
from bot.context import Context
from bot.i18n import Translator
from bot.messages import Incoming, Location, Outgoing
from bot.pacing import Pacer
from bot.router import Router
from bot.sender import Sender
from storage import members
from tests.channels.conftest import make_channel
from tests.channels.fake_telegram import BOT, FakeTelegram
from tests.conftest import with_routers
from unionbot.app import build_app

XIAOMING = 1001
AMY = 1002
GROUP = -5001


def zh(app: App) -> Translator:
    return app.dispatcher.translations["zh_CN"]


async def test_start_shows_the_menu_as_an_inline_keyboard(
    app: App, fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    [menu] = await fake.say(XIAOMING, "/start")
    assert menu.method == "sendMessage"
    assert menu.text == zh(app)("menu.title")
    labels = [zh(app)("menu.me"), zh(app)("menu.help"), zh(app)("menu.language")]
    assert set(labels) <= set(menu.labels())
    assert {"me", "help", "lang"} <= set(menu.payloads())
    assert fake.calls_of("deleteWebhook"), "polling works only without a webhook"


async def test_the_command_menu_is_registered_in_chinese_and_english(
    app: App, fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    chinese = {c["command"]: c["description"] for c in fake.commands["zh"]}
    english = {c["command"]: c["description"] for c in fake.commands["en"]}
    assert chinese["help"] == zh(app)("help.help")
    assert english["help"] == app.dispatcher.translations["en"]("help.help")
    assert fake.commands[""] == fake.commands["zh"]
    assert set(chinese) == set(english) >= {"menu", "help", "lang", "cancel", "me", "link"}


async def test_an_english_speaker_gets_english(
    app: App, fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    [menu] = await fake.say(AMY, "/start", language="en-GB")
    assert menu.text == app.dispatcher.translations["en"]("menu.title")


async def test_pressing_a_menu_button_edits_the_message_in_place(
    app: App, fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    [menu] = await fake.say(XIAOMING, "/start")
    [choice] = await fake.press(XIAOMING, menu, "lang")
    assert choice.method == "editMessageText"
    assert choice.message_id == menu.message_id
    assert fake.current(menu)["text"] == zh(app)("lang.choose")
    assert choice.payloads() == ["lang:zh_CN", "lang:en"]
    assert len(fake.answered) == 1

    set_to_english, new_menu = await fake.press(XIAOMING, choice, "lang:en", replies=2)
    assert set_to_english.text == app.dispatcher.translations["en"]("lang.set")
    assert new_menu.method == "sendMessage"
    assert len(fake.answered) == 2


async def test_an_edit_that_changes_nothing_is_not_an_error(
    app: App, fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    [menu] = await fake.say(XIAOMING, "/start")
    fake.fail_next("editMessageText", "not_modified")
    await fake.push(fake.press_update(XIAOMING, menu, "lang"))
    [help_] = await fake.say(XIAOMING, "/help")
    assert help_.text.startswith(zh(app)("help.title"))
    assert [e.method for e in fake.events_in(XIAOMING)] == ["sendMessage", "sendMessage"]
    assert len(fake.calls_of("editMessageText")) == 1
    assert len(fake.answered) == 1


async def test_a_form_carries_on_after_the_bot_restarts(
    app: App, fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    [ask_name] = await fake.say(XIAOMING, "/me")
    assert ask_name.text.startswith(zh(app)("me.ask_real_name"))
    [ask_town] = await fake.say(XIAOMING, "王小明")
    assert ask_town.text.startswith(zh(app)("me.ask_town"))

    await telegram.stop()
    restarted = build_app(app.settings)
    channel = make_channel(restarted, fake)
    await channel.start(webhook=False)
    try:
        [ask_enterprise] = await fake.say(XIAOMING, "坎墩街道")
        assert ask_enterprise.text.startswith(zh(restarted)("me.ask_enterprise"))
        [ask_number] = await fake.press(XIAOMING, ask_enterprise, "f:skip")
        assert ask_number.text.startswith(zh(restarted)("me.ask_number"))
        [summary] = await fake.press(XIAOMING, ask_number, "f:skip")
        assert "王小明" in summary.text and "坎墩街道" in summary.text
        [saved] = await fake.press(XIAOMING, summary, "f:ok")
        assert saved.text == zh(restarted)("me.saved")
    finally:
        await channel.stop()
        await restarted.close()
    async with app.sessions() as session:
        member = await members.find_member(session, f"telegram:{XIAOMING}")
    assert member is not None
    assert (member.real_name, member.town) == ("王小明", "坎墩街道")


def routes_for_tests() -> Router:
    """A deep-link route, a private command, and a slow command, as services register them."""
    router = Router("test_events")

    @router.command("test_remind")
    async def remind(ctx: Context) -> None:
        ctx.send(ctx.member.id, lambda t: Outgoing("提醒"))
        ctx.reply("已安排")

    @router.start("testitem")
    async def open_event(ctx: Context) -> None:
        ctx.reply(f"活动 {ctx.args}")

    @router.command("test_secret", private=True)
    async def secret(ctx: Context) -> None:
        ctx.reply(f"私密 {ctx.member.display_name}")

    return router


@pytest.fixture
async def with_test_routes(app: App, fake: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    with_routers(app, routes_for_tests())
    channel = make_channel(app, fake)
    await channel.start(webhook=False)
    yield channel
    await channel.stop()


async def test_a_deep_link_opens_its_item(
    fake: FakeTelegram, with_test_routes: TelegramChannel
) -> None:
    [event] = await fake.say(XIAOMING, "/start testitem_42")
    assert event.text == "活动 42"


async def test_an_unknown_deep_link_says_it_expired_and_shows_the_menu(
    app: App, fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    expired, menu = await fake.say(XIAOMING, "/start gone_7", replies=2)
    assert expired.text == zh(app)("input.unknown_link")
    assert {"me", "help", "lang"} <= set(menu.payloads())


async def test_a_shared_location_reaches_the_core(
    app: App, fake: FakeTelegram, telegram: TelegramChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Incoming] = []
    handle = app.dispatcher.handle

    async def spy(message: Incoming) -> list[Outgoing]:
        seen.append(message)
        return await handle(message)

    monkeypatch.setattr(app.dispatcher, "handle", spy)
    await fake.exchange(fake.message_update(XIAOMING, location=(30.17, 121.27)))
    assert seen[-1].location == Location(30.17, 121.27)
    assert (seen[-1].text, seen[-1].is_group) == (None, False)


async def test_in_a_group_only_commands_addressed_to_the_bot_are_answered(
    app: App, fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    await fake.push(fake.message_update(XIAOMING, "/help", chat=GROUP))
    await fake.push(fake.message_update(XIAOMING, "大家好", chat=GROUP))
    await fake.push(fake.message_update(XIAOMING, "/help@other_bot", chat=GROUP))
    [help_] = await fake.say(XIAOMING, f"/help@{BOT['username']}", chat=GROUP)
    assert help_.text.startswith(zh(app)("help.title"))
    assert len(fake.events_in(GROUP)) == 1

    [unknown] = await fake.say(XIAOMING, "你好", chat=GROUP, reply_to=help_)
    assert unknown.text == zh(app)("input.unknown")


async def test_private_data_is_not_shown_in_a_group_but_continues_in_private(
    app: App, fake: FakeTelegram, with_test_routes: TelegramChannel
) -> None:
    [refusal] = await fake.say(XIAOMING, f"/test_secret@{BOT['username']}", chat=GROUP)
    assert refusal.text == zh(app)("input.private_only")
    link = f"https://t.me/{BOT['username']}?start=cmd-test_secret"
    assert refusal.urls() == [link]
    assert refusal.labels() == [zh(app)("telegram.continue_private")]
    assert len(fake.events_in(GROUP)) == 1

    [private] = await fake.say(XIAOMING, "/start cmd-test_secret")
    assert private.text == f"私密 工友{XIAOMING}"


async def test_a_message_to_another_member_never_holds_up_the_reply(
    app: App, fake: FakeTelegram, with_test_routes: TelegramChannel
) -> None:
    """It is an outbox row: the reply comes back at once, the sender delivers the rest."""
    await fake.say(XIAOMING, "/start")
    [reply] = await fake.say(XIAOMING, "/test_remind")
    assert reply.text == "已安排"
    await Sender(app, {"telegram": Pacer(0)}).send_all()
    assert [e.text for e in fake.events_in(XIAOMING)][1:] == ["已安排", "提醒"]


async def test_a_member_asking_for_their_details_in_a_group_continues_in_private(
    app: App, fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    [refusal] = await fake.say(XIAOMING, f"/me@{BOT['username']}", chat=GROUP)
    assert refusal.text == zh(app)("input.private_only")
    assert refusal.urls() == [f"https://t.me/{BOT['username']}?start=cmd-me"]

    [menu] = await fake.say(XIAOMING, f"/menu@{BOT['username']}", chat=GROUP)
    [pressed] = await fake.press(XIAOMING, menu, "me")
    assert pressed.text == zh(app)("input.private_only")
    assert pressed.urls() == [f"https://t.me/{BOT['username']}?start=cmd-menu"]

    [ask_name] = await fake.say(XIAOMING, "/start cmd-me")
    assert ask_name.chat_id == XIAOMING
    assert ask_name.text.startswith(zh(app)("me.ask_real_name"))
