"""The language buttons: the menu's offers the languages, each language's chooses it."""

from __future__ import annotations

import pytest

from bot.app import App
from storage import members
from tests.conftest import Chat, payloads


async def language_of(app: App, name: str) -> str:
    async with app.sessions() as session:
        member = await members.find_member(session, name)
        assert member is not None
        return member.language


async def test_the_language_buttons_offer_and_choose(app: App, chat: Chat) -> None:
    [choose] = await chat.say({"press": "lang"})
    assert payloads(choose) == ["lang:zh_CN", "lang:en"]
    [chosen, _menu] = await chat.say({"press": "lang:en"})
    assert "English" in chosen["text"] and await language_of(app, "xiaoming") == "en"


@pytest.mark.parametrize("payload", ["lang:fr", "lang:zh", "lang:en:1", "lang:EN"])
async def test_a_malformed_language_button_is_stale_and_changes_nothing(
    app: App, chat: Chat, payload: str
) -> None:
    assert "这个按钮已失效" in await chat.text_of({"press": payload})
    assert await language_of(app, "xiaoming") == "zh_CN"
