"""/broadcasts: officers see each broadcast's progress and final counts; members cannot."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from bot.app import App
from bot.broadcasting import expand_pending
from bot.channels.base import RecipientBlocked
from bot.messages import Outgoing
from bot.sender import Sender
from handlers.notices import send_notice
from storage import broadcasts, members
from storage.models import Delivery, Member, Notice
from tests.conftest import Chat
from tests.handlers.test_notices import load_demo, settings  # noqa: F401

NOON = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)


class Telegram:
    name = "telegram"

    async def send(self, external_id: str, message: Outgoing) -> None:
        raise RecipientBlocked()


async def test_an_officer_sees_progress_then_final_counts(app: App) -> None:
    await load_demo(app)
    officer = Chat(app, "officer")
    async with app.sessions() as session, session.begin():
        notice = Notice(title="建德青荷对对联谊活动", body="欢迎报名", audience="all")
        session.add(notice)
        await session.flush()
        await members.create_member(session, "telegram", "42", "小王", "zh_CN")
        everyone = await session.scalar(select(func.count()).select_from(Member))
        assert everyone is not None and everyone > 1
        assert await send_notice(session, app, notice, NOON) == everyone
        assert await send_notice(session, app, notice, NOON) is None
    recorded = await officer.text_of("/broadcasts")
    assert "建德青荷对对联谊活动：准备名单中，共 0 人（-）" in recorded
    await expand_pending(app, clock=lambda: NOON)
    progress = await officer.text_of("/broadcasts")
    assert f"建德青荷对对联谊活动：发送中，共 {everyone} 人（待发送 {everyone}）" in progress
    app.outbox.attach(Telegram())
    await Sender(app, clock=lambda: NOON).send_all()
    await officer.channel.deliver_waiting()
    final = await officer.text_of({"press": "bc"})
    on_console = everyone - 1
    assert (
        f"建德青荷对对联谊活动：已完成，共 {everyone} 人（已送达 {on_console}、已屏蔽 1）" in final
    )
    assert await counted(app) == {"sent": on_console, "blocked": 1}


async def counted(app: App) -> dict[str, int]:
    """The one broadcast's counts from its counters, checked against the outbox itself."""
    async with app.sessions() as session:
        [broadcast] = await broadcasts.recent_broadcasts(session, 2)
        tallied = await broadcasts.tallies(session, [broadcast.id])
        from_counters = broadcasts.by_status([broadcast], tallied)[broadcast.id]
        rows = await session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.broadcast_id == broadcast.id)
            .group_by(Delivery.status)
        )
        in_outbox = {status: n for status, n in rows}
    assert from_counters == in_outbox
    return from_counters


async def test_members_may_not_see_broadcasts(app: App) -> None:
    await load_demo(app)
    assert "只对工会干部开放" in await Chat(app, "xiaoli").text_of("/broadcasts")
    assert "还没有发送过" in await Chat(app, "officer").text_of("/broadcasts")
