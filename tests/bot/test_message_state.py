"""The per-message rows read and written with the driver (:mod:`storage.message_state`):
a message that changes nothing writes nothing, and what a route changes in the dialog
state stands or falls with the rest of what it wrote."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from bot.app import App
from bot.context import Context
from bot.dialogs import Form, start_form, text_field
from bot.dispatcher import Dispatcher
from bot.router import Router
from bot.settings import Settings
from storage import members
from storage.db import create_engine
from storage.models import DialogState, Enterprise, Identity
from storage.refusals import Refused
from storage.types import utcnow
from tests.conftest import Chat, with_routers
from unionbot.app import build_app

router = Router("test_state")


async def _saved(ctx: Context, data: dict[str, Any]) -> None:
    ctx.reply(f"saved {data['word']}")


word_form = router.form(Form("word", (text_field("word", "me.ask_town"),), _saved))


@router.command("refuse_midway")
async def refuse_midway(ctx: Context) -> None:
    """Opens a form and writes a row, then a rule says no."""
    await start_form(ctx, word_form)
    if ctx.args == "with_rows":
        ctx.session.add(Enterprise(name="半途而废有限公司", city="杭州"))
        await ctx.session.flush()
    raise Refused("bargaining.finished")


@router.command("fail_midway")
async def fail_midway(ctx: Context) -> None:
    await start_form(ctx, word_form)
    raise RuntimeError("boom")


@router.command("word")
async def word(ctx: Context) -> None:
    await start_form(ctx, word_form)


@pytest.fixture
def dispatcher(app: App) -> Dispatcher:
    return with_routers(app, router)


async def _count(app: App, model: type[Any]) -> int:
    async with app.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_a_member_reading_is_answered_while_another_process_holds_the_write_lock(
    app: App, dispatcher: Dispatcher
) -> None:
    """The menu writes nothing, so it does not wait for a writer elsewhere (on SQLite, the
    one write lock; on PostgreSQL, the member's rows)."""
    chat = Chat(app, "xiaoming")
    await chat.say("/menu")
    other = create_engine(app.settings.database_url)
    try:
        async with other.connect() as writer:
            await writer.begin()
            if other.dialect.name == "postgresql":
                await writer.execute(
                    text("LOCK TABLE identities, members, dialog_states IN EXCLUSIVE MODE")
                )
            else:
                await writer.execute(text("DELETE FROM link_codes"))  # holds the write lock
            [menu] = await asyncio.wait_for(chat.say("/menu"), timeout=5)
            assert menu["text"].startswith("您好")
            await writer.rollback()
    finally:
        await other.dispose()


async def test_members_writing_at_the_same_moment_are_each_answered_and_kept(
    app: App, dispatcher: Dispatcher
) -> None:
    """Thirty new members open a form and answer it at once: each message writes (the new
    member, the dialog state, the form's result), and on SQLite they take turns on the one
    pooled connection (``storage.db.SQLITE_POOL_SIZE``) without waiting out a timeout."""
    chats = [Chat(app, f"m{n}") for n in range(30)]
    await asyncio.wait_for(asyncio.gather(*(chat.say("/word") for chat in chats)), timeout=30)
    answers = await asyncio.wait_for(
        asyncio.gather(*(chat.text_of(f"镇{n}") for n, chat in enumerate(chats))), timeout=30
    )
    assert answers == [f"saved 镇{n}" for n in range(30)]
    assert await _count(app, Identity) == 30
    assert await _count(app, DialogState) == 0


async def test_a_refused_route_leaves_neither_its_form_nor_its_rows(
    app: App, dispatcher: Dispatcher
) -> None:
    chat = Chat(app, "xiaoming")
    for command in ("/refuse_midway", "/refuse_midway with_rows"):
        assert "已经完成" in await chat.text_of(command)
        assert "没听懂" in await chat.text_of("坎墩街道")
    assert await _count(app, DialogState) == 0
    assert await _count(app, Enterprise) == 0


async def test_a_refusal_inside_a_form_keeps_the_member_where_they_were(
    app: App, dispatcher: Dispatcher
) -> None:
    chat = Chat(app, "xiaoming")
    await chat.say("/word")
    assert "已经完成" in await chat.text_of("/refuse_midway with_rows")
    assert await chat.text_of("坎墩街道") == "saved 坎墩街道"
    assert await _count(app, DialogState) == 0


async def test_a_failing_route_leaves_the_form_as_it_was(app: App, dispatcher: Dispatcher) -> None:
    chat = Chat(app, "xiaoming")
    assert "编号" in await chat.text_of("/fail_midway")
    assert "没听懂" in await chat.text_of("坎墩街道")
    assert await _count(app, DialogState) == 0


async def test_writing_again_after_a_while_marks_the_member_seen_and_reachable(
    app: App, dispatcher: Dispatcher
) -> None:
    chat = Chat(app, "xiaoming")
    await chat.say("/menu")
    long_ago = utcnow() - timedelta(days=3)
    async with app.sessions() as session, session.begin():
        await session.execute(update(Identity).values(active=False, last_seen_at=long_ago))
    await chat.say("/word")
    async with app.sessions() as session:
        identity = await session.scalar(select(Identity))
        assert identity is not None
        assert identity.active and identity.last_seen_at > long_ago + timedelta(days=2)
    assert await chat.text_of("坎墩街道") == "saved 坎墩街道"


async def test_a_language_chosen_by_a_handler_without_a_session_is_kept(
    app: App, dispatcher: Dispatcher
) -> None:
    chat = Chat(app, "xiaoming")
    await chat.say("/lang en")
    assert (await chat.text_of("/menu")).startswith("Hello")


async def test_two_processes_at_once_carry_on_one_conversation(
    app: App, dispatcher: Dispatcher, settings: Settings
) -> None:
    """Each step is read as the other process left it, never from an older snapshot."""
    other = build_app(settings)
    try:
        here, there = Chat(app, "xiaoming"), Chat(other, "xiaoming")
        await here.say("/me")
        assert "镇" in await there.text_of("李晓梅")
        assert "跳过" in await here.text_of("坎墩街道")
        await there.say("跳过")
        await here.say("跳过")
        await there.say("1")
        async with app.sessions() as session:
            member = await members.find_member(session, "xiaoming")
            assert member is not None and member.real_name == "李晓梅"
    finally:
        await other.close()
