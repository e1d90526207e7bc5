"""A member's last known place (:class:`storage.models.places.LastPlace`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.places import LastPlace


async def remember(
    session: AsyncSession, member_id: int, latitude: float, longitude: float, now: datetime
) -> None:
    """Keep this as the member's last known place, in place of the one before."""
    found = await session.get(LastPlace, member_id)
    if found is None:
        session.add(LastPlace(member_id=member_id, latitude=latitude, longitude=longitude, at=now))
    else:
        found.latitude, found.longitude, found.at = latitude, longitude, now


async def last_place(session: AsyncSession, member_id: int) -> tuple[float, float] | None:
    """The member's last known (latitude, longitude), if any."""
    found = await session.get(LastPlace, member_id)
    return None if found is None else (found.latitude, found.longitude)
