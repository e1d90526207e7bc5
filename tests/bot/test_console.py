"""A member on the console: menus, language, and every kind of bad input."""

from __future__ import annotations

from io import StringIO

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.channels.console import ConsoleChannel
from storage.models import Member
from storage.models.events import SignUp
from tests.conftest import Chat, payloads
from tests.singles import add_event


async def count_members(app: App) -> int:
    async with app.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Member)) or 0


async def test_start_shows_the_main_menu_in_chinese(chat: Chat) -> None:
    [menu] = await chat.say("/start")
    assert menu["to"] == "xiaoming"
    assert "请选择" in menu["text"]
    assert {"me", "help", "lang"} <= set(payloads(menu))
    assert menu["image"] is None


async def test_choosing_english_switches_the_menu_and_is_remembered(app: App, chat: Chat) -> None:
    [choose] = await chat.say({"press": "lang"})
    assert payloads(choose) == ["lang:zh_CN", "lang:en"]
    confirmation, menu = await chat.say({"press": "lang:en"})
    assert confirmation["text"] == "Language set to English."
    assert "Please choose" in menu["text"]
    later = Chat(app, "xiaoming")
    [menu_again] = await later.say("/menu")
    assert "Please choose" in menu_again["text"]


async def test_lang_command_takes_a_language_directly(chat: Chat) -> None:
    assert "English" in await chat.text_of("/lang en")
    assert "简体中文" in await chat.text_of("/lang zh_CN")
    assert "不支持" in await chat.text_of("/lang fr")


async def test_console_lang_option_sets_a_new_members_language(app: App) -> None:
    english = Chat(app, "amy", language="en")
    [menu] = await english.say("/menu")
    assert "Please choose" in menu["text"]


async def test_unknown_command_and_text_get_helpful_answers(chat: Chat) -> None:
    [unknown_command] = await chat.say("/dance")
    assert "/dance" in unknown_command["text"] and "/help" in unknown_command["text"]
    assert payloads(unknown_command) == ["menu"]
    [unknown_text] = await chat.say("今天天气怎么样")
    assert "没听懂" in unknown_text["text"]
    assert payloads(unknown_text) == ["menu"]


async def test_a_stale_button_is_explained(chat: Chat) -> None:
    [reply] = await chat.say({"press": "no-such-button:1"})
    assert "失效" in reply["text"]


async def test_a_10_kb_message_is_refused_and_changes_nothing(app: App, chat: Chat) -> None:
    [reply] = await chat.say("字" * 10_000)
    assert "太长" in reply["text"] and "10000" in reply["text"]
    assert await count_members(app) == 0


async def test_malformed_json_action_is_refused_and_changes_nothing(app: App, chat: Chat) -> None:
    [reply] = await chat.say('{"text": "/start"')
    assert reply["to"] == "xiaoming"
    assert "JSON" in reply["text"]
    assert await count_members(app) == 0


async def test_json_actions_with_two_kinds_or_wrong_types_are_refused(chat: Chat) -> None:
    for line in (
        {"text": "/menu", "press": "menu"},
        {"press": 3},
        {"dance": "now"},
        {"text": "/menu", "as": ""},
    ):
        [reply] = await chat.say(line)
        assert "看不懂" in reply["text"] or "JSON" in reply["text"], line


async def test_bad_locations_are_refused(chat: Chat) -> None:
    for value in ([91, 0], [30], "here", [30, None]):
        [reply] = await chat.say({"location": value})
        assert "纬度" in reply["text"], value


async def test_a_location_goes_to_the_service_that_asks_for_it(chat: Chat) -> None:
    """The benefits service looks up the nearest partner units; here there are none."""
    [reply] = await chat.say({"location": [30.27, 120.15]})
    assert "离您最近" in reply["text"] and "没有找到" in reply["text"]


async def test_invalid_utf8_line_is_refused(app: App, chat: Chat) -> None:
    [reply] = await chat.say(b"\xff\xfe/start\n")
    assert "UTF-8" in reply["text"]
    assert await count_members(app) == 0


async def test_acting_as_another_console_member(chat: Chat) -> None:
    [reply] = await chat.say({"as": "officer", "text": "/menu"})
    assert reply["to"] == "officer"


async def test_an_unknown_deep_link_shows_the_menu(chat: Chat) -> None:
    failed, menu = await chat.say({"start": "nothing_42"})
    assert "失效" in failed["text"]
    assert "me" in payloads(menu)


def console_as(app: App, name: str) -> tuple[ConsoleChannel, StringIO]:
    """The interactive console (no ``--json``), where buttons show as numbered options."""
    out = StringIO()
    channel = ConsoleChannel(app.dispatcher, name, out, json_mode=False)
    app.messenger.attach(channel)
    return channel, out


def taken(out: StringIO) -> str:
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    return text


async def test_a_bare_number_presses_options_numbered_across_messages(app: App) -> None:
    first = await add_event(app, title="第一场联谊", profile_required=False)
    await add_event(app, title="第二场联谊", profile_required=False)
    await add_event(app, title="第三场联谊", profile_required=False)
    console, out = console_as(app, "xiaoming")
    await console.handle_line("/events")
    listing = taken(out)
    assert "    1) " in listing and "    5) " in listing, "numbers continue across the cards"
    await console.handle_line("1")
    assert "签到码" in taken(out)
    async with app.sessions() as session:
        [signed_up] = (await session.scalars(select(SignUp.event_id))).all()
    assert signed_up == first, "1 is the first event's sign-up, not the last card's"


async def test_after_new_input_the_numbers_start_again(app: App) -> None:
    console, out = console_as(app, "xiaoming")
    await console.handle_line("/menu")
    menu = taken(out)
    await console.handle_line("/lang")
    assert "    1) 简体中文" in taken(out) and "    1) " in menu
    await console.handle_line("2")
    assert "Language set to English." in taken(out)


@pytest.mark.parametrize("word", ["取消", "退出", "cancel", " Cancel "])
async def test_typing_cancel_inside_a_form_leaves_it_unsaved(chat: Chat, word: str) -> None:
    assert "真实姓名" in await chat.text_of("/me")
    assert "已取消" in await chat.text_of(word)
    assert "没有需要取消" in await chat.text_of("/cancel"), "the form is closed"


@pytest.mark.parametrize("word", ["菜单", "menu", "Menu"])
async def test_typing_menu_without_a_slash_opens_the_menu(chat: Chat, word: str) -> None:
    [menu] = await chat.say(word)
    assert "请选择" in menu["text"] and "me" in payloads(menu)


async def test_menu_typed_on_wechat_opens_the_menu(app: App) -> None:
    from bot.messages import Incoming

    [menu] = await app.dispatcher.handle(Incoming("wechat", "oOPENID", "oOPENID", text="菜单"))
    assert "请选择" in menu.text
