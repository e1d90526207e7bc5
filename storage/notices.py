"""Queries on notices and reminder subscriptions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    and_,
    delete,
    exists,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Member, MemberSettings, Notice, ReminderSubscription

Includes = Callable[[SQLColumnExpression[str]], ColumnElement[bool]]
"""An audience's condition on the :class:`Member` row for a value (see :mod:`bot.audience`)."""


def visible_to(member_id: int, audiences: Mapping[str, Includes]) -> ColumnElement[bool]:
    """A notice is the member's to see when the member is in its audience: each
    audience's condition on the member's row, applied to the notice's own value."""
    addressed = or_(
        false(),
        *(
            and_(Notice.audience == name, includes(Notice.audience_value))
            for name, includes in audiences.items()
        ),
    )
    return exists(select(Member.id).where(Member.id == member_id, addressed))


async def recent_notices(
    session: AsyncSession, now: datetime, offset: int, limit: int, visible: ColumnElement[bool]
) -> tuple[list[Notice], int]:
    """Published notices the member may see (``visible``), newest first, one page of them
    and how many there are in all."""
    published = and_((Notice.send_at.is_(None)) | (Notice.send_at <= now), visible)
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


def asked_reminder(kind: str, thing_id: int) -> ColumnElement[bool]:
    """On the :class:`Member` row: the member asked to be reminded of this thing and has
    not switched reminders off."""
    off = aliased(MemberSettings)
    asked = exists().where(
        ReminderSubscription.member_id == Member.id,
        ReminderSubscription.kind == kind,
        ReminderSubscription.thing_id == thing_id,
    )
    return asked & ~exists().where(off.member_id == Member.id, off.reminders.is_(False))


async def members_where(session: AsyncSession, condition: ColumnElement[bool]) -> list[int]:
    """Ids of the members matching an audience's condition on :class:`Member`."""
    rows = await session.scalars(select(Member.id).where(condition).order_by(Member.id))
    return list(rows)


async def count_where(session: AsyncSession, condition: ColumnElement[bool]) -> int:
    """How many members match an audience's condition, without reading their ids."""
    found = await session.scalar(select(func.count()).select_from(Member).where(condition))
    return found or 0


async def is_member(session: AsyncSession, member_id: int, condition: ColumnElement[bool]) -> bool:
    """Whether this member matches an audience's condition, in one query."""
    found = await session.scalar(select(exists().where(Member.id == member_id, condition)))
    return bool(found)
