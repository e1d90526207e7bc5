"""Queries on members' settings: reminders on or off, quiet hours."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import MemberSettings


async def settings_of(session: AsyncSession, member_id: int) -> MemberSettings:
    """The member's settings row, created with the defaults when they have none yet."""
    found = await session.get(MemberSettings, member_id)
    if found is None:
        found = MemberSettings(member_id=member_id, reminders=True, quiet_hours=True)
        session.add(found)
        await session.flush()
    return found


async def settings_for(
    session: AsyncSession, member_ids: Iterable[int]
) -> dict[int, MemberSettings]:
    """Settings of many members; those without a row are missing from the result."""
    ids = list(set(member_ids))
    found: dict[int, MemberSettings] = {}
    for start in range(0, len(ids), 1000):
        rows = await session.scalars(
            select(MemberSettings).where(MemberSettings.member_id.in_(ids[start : start + 1000]))
        )
        found.update({row.member_id: row for row in rows})
    return found


async def with_reminders_on(session: AsyncSession, member_ids: Iterable[int]) -> list[int]:
    """These members, in order, less those who switched reminders off."""
    ids = list(member_ids)
    chosen = await settings_for(session, ids)
    return [m for m in ids if m not in chosen or chosen[m].reminders is not False]
