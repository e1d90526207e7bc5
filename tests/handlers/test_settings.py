"""/settings: a member switches reminders off and on and sets or drops quiet hours."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import App
from bot.settings import Settings
from storage.models import MemberSettings
from tests.conftest import Chat, payloads


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The default quiet hours, which /settings shows."""
    return Settings(database_url=database_url, key_dir=tmp_path / "keys", _env_file=None)  # type: ignore[call-arg]


async def stored(app: App) -> MemberSettings:
    async with app.sessions() as session:
        found = await session.scalar(select(MemberSettings))
        assert found is not None
        return found


async def test_the_defaults_are_shown_with_buttons_to_change_them(chat: Chat) -> None:
    [shown] = await chat.say("/settings")
    assert "提醒：开" in shown["text"] and "22:00–07:30" in shown["text"]
    assert payloads(shown) == ["set:rem", "set:quiet", "menu"]


async def test_reminders_switch_off_and_on(app: App, chat: Chat) -> None:
    off, shown = await chat.say({"press": "set:rem"})
    assert "提醒已关闭" in off["text"] and "提醒：关" in shown["text"]
    assert (await stored(app)).reminders is False
    on, _ = await chat.say({"press": "set:rem"})
    assert "提醒已打开" in on["text"]
    assert (await stored(app)).reminders is True


async def test_quiet_hours_change_drop_and_come_back(app: App, chat: Chat) -> None:
    [shown] = await chat.say("/settings quiet 23:00-06:30")
    assert "23:00–06:30" in shown["text"]
    [shown] = await chat.say("/settings quiet off")
    assert "免打扰时间：不设" in shown["text"]
    [shown] = await chat.say({"press": "set:quiet"})
    assert "23:00–06:30" in shown["text"]
    chosen = await stored(app)
    assert (chosen.quiet_start, chosen.quiet_end, chosen.quiet_hours) == ("23:00", "06:30", True)


async def test_a_malformed_quiet_window_is_refused(app: App, chat: Chat) -> None:
    for bad in ("25:00-07:00", "22:00", "晚上", "07:00-07:00"):
        assert "请这样写" in await chat.text_of(f"/settings quiet {bad}")
    assert (await stored(app)).quiet_start is None


async def test_english_members_see_english(app: App) -> None:
    english = Chat(app, "amy", "en")
    await english.say("/lang en")
    assert "Reminders: on" in await english.text_of("/settings")


@pytest.mark.parametrize("payload", ["set:x", "set:rem:1", "set:REM", "set:none:rem"])
async def test_a_malformed_settings_button_is_stale_and_switches_nothing(
    app: App, chat: Chat, payload: str
) -> None:
    await chat.say({"press": "set"})
    assert "这个按钮已失效" in await chat.text_of({"press": payload})
    chosen = await stored(app)
    assert (chosen.reminders, chosen.quiet_hours) == (True, True)
