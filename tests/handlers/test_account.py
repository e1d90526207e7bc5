"""Linking a member's accounts on two channels with a one-time code."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select, update

from bot.app import App
from bot.messages import Incoming
from storage import members
from storage.models import Identity, LinkCode, Member
from storage.types import utcnow
from tests.conftest import Chat


async def link_code(chat: Chat) -> str:
    text = await chat.text_of("/link")
    match = re.search(r"绑定码是 ([A-Z0-9]{8})", text)
    assert match, text
    return match.group(1)


async def test_linking_joins_a_telegram_account_to_the_console_member(app: App, chat: Chat) -> None:
    await chat.say("/menu")
    code = await link_code(chat)
    telegram = Incoming("telegram", "4242", "4242", text=f"/link {code.lower()}", language="en")
    [done] = await app.dispatcher.handle(telegram)
    assert "绑定成功" in done.text and "xiaoming" in done.text
    async with app.sessions() as session:
        console = await members.find_member(session, "xiaoming")
        on_telegram = await members.find_member(session, "telegram:4242")
        assert console is not None and on_telegram is not None
        assert console.id == on_telegram.id
        assert await session.scalar(select(func.count()).select_from(Member)) == 1
        assert await session.scalar(select(func.count()).select_from(LinkCode)) == 0


async def test_a_link_code_works_once(app: App, chat: Chat) -> None:
    code = await link_code(chat)
    await app.dispatcher.handle(Incoming("telegram", "1", "1", text=f"/link {code}"))
    [again] = await app.dispatcher.handle(Incoming("telegram", "2", "2", text=f"/link {code}"))
    assert "不对或已过期" in again.text
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Identity)) == 3


async def test_an_expired_or_wrong_link_code_is_refused(app: App, chat: Chat) -> None:
    code = await link_code(chat)
    async with app.sessions() as session, session.begin():
        await session.execute(update(LinkCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    [expired] = await app.dispatcher.handle(Incoming("telegram", "1", "1", text=f"/link {code}"))
    assert "不对或已过期" in expired.text
    [wrong] = await app.dispatcher.handle(Incoming("telegram", "1", "1", text="/link WRONG123"))
    assert "不对或已过期" in wrong.text
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Member)) == 2
