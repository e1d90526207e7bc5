"""The towns members live in, for the audience question.

``SELECT DISTINCT town`` reads every member (a fifth of a second at 1,000,000). A recursive
query instead hops through the town index, one probe per town (``min(town) WHERE town >
the last one``), so a county's twenty towns cost twenty probes whatever its membership.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Member


async def member_towns(session: AsyncSession, word: str, limit: int) -> list[str]:
    """Towns of members that contain ``word`` ("" for any), in order, at most ``limit``."""
    towns = select(func.min(Member.town).label("town")).cte("towns", recursive=True)
    following = select(func.min(Member.town)).where(Member.town > towns.c.town).scalar_subquery()
    towns = towns.union_all(select(following).where(towns.c.town.is_not(None)))
    found = await session.scalars(
        select(towns.c.town)
        .where(towns.c.town.is_not(None), towns.c.town.contains(word, autoescape=True))
        .order_by(towns.c.town)
        .limit(limit)
    )
    return [town for town in found if town]
