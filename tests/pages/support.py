"""A bargaining meeting under way, watched from the web: shared by the page tests and the
browser tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from bot.app import App
from tests.conftest import Chat
from tests.handlers.test_bargaining import as_, running_session


async def open_meeting(app: App) -> tuple[Chat, int]:
    """The demo chair runs a session at step 5 with the meeting open; xiaozhang follows it."""
    chat = Chat(app, "chair")
    bs, code = await running_session(app, chat, step=5)
    await as_(chat, "xiaozhang", f"/join {code}")
    await chat.say("/meeting_open")
    return chat, bs.id


def link_in(messages: list[dict[str, Any]], name: str) -> str:
    """The path of the one web link the bot sent ``name`` (the host is the test server's)."""
    [url] = [
        button["url"]
        for message in messages
        if message["to"] == name
        for row in message["buttons"]
        for button in row
        if "url" in button
    ]
    return urlsplit(url).path


async def watch_link(chat: Chat, name: str, session_id: int) -> str:
    """What a member gets by pressing 在网页上围观: the path of their personal link."""
    return link_in(await as_(chat, name, {"press": f"wm:{session_id}"}), name)
