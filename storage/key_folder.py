"""The key folder's fingerprint as the database records it (see :mod:`storage.models.keys`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.keys import KeyFolder


async def recorded_fingerprint(session: AsyncSession) -> str | None:
    return await session.scalar(select(KeyFolder.fingerprint))


async def record_fingerprint(session: AsyncSession, fingerprint: str) -> str:
    """Record the fingerprint unless one is already there; returns the one that holds (a
    process starting at the same moment with another folder may have won)."""
    session.add(KeyFolder(fingerprint=fingerprint))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
    held = await recorded_fingerprint(session)
    assert held is not None
    return held
