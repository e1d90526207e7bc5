"""Queries on notices and reminder subscriptions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Member, MemberSettings, Notice, ReminderSubscription


async def recent_notices(
    session: AsyncSession, now: datetime, offset: int, limit: int
) -> tuple[list[Notice], int]:
    """Published notices, newest first, one page of them and how many there are in all."""
    published = (Notice.send_at.is_(None)) | (Notice.send_at <= now)
    total = await session.scalar(select(func.count(Notice.id)).where(published))
    page = await session.scalars(
        select(Notice)
        .where(published)
        .order_by(Notice.created_at.desc(), Notice.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(page), total or 0


async def subscribe(session: AsyncSession, kind: str, thing_id: int, member_id: int) -> bool:
    """Ask for a reminder; returns False if the member had already asked."""
    existing = await session.scalar(
        select(ReminderSubscription.id).where(
            ReminderSubscription.kind == kind,
            ReminderSubscription.thing_id == thing_id,
            ReminderSubscription.member_id == member_id,
        )
    )
    if existing is not None:
        return False
    session.add(ReminderSubscription(kind=kind, thing_id=thing_id, member_id=member_id))
    await session.flush()
    return True


async def unsubscribe(session: AsyncSession, kind: str, thing_id: int, member_id: int) -> None:
    await session.execute(
        delete(ReminderSubscription).where(
            ReminderSubscription.kind == kind,
            ReminderSubscription.thing_id == thing_id,
            ReminderSubscription.member_id == member_id,
        )
    )


async def subscribers(session: AsyncSession, kind: str, thing_id: int) -> list[int]:
    """Members who asked to be reminded of this thing and have not switched reminders off."""
    rows = await session.scalars(
        select(ReminderSubscription.member_id)
        .outerjoin(MemberSettings, MemberSettings.member_id == ReminderSubscription.member_id)
        .where(
            ReminderSubscription.kind == kind,
            ReminderSubscription.thing_id == thing_id,
            MemberSettings.reminders.is_not(False),
        )
        .order_by(ReminderSubscription.member_id)
    )
    return list(rows)


async def members_where(session: AsyncSession, *conditions: object) -> list[int]:
    """Ids of the members matching an audience's conditions on :class:`Member`."""
    rows = await session.scalars(select(Member.id).where(*conditions).order_by(Member.id))  # type: ignore[arg-type]
    return list(rows)
