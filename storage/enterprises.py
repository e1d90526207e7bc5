"""Queries on enterprises (the companies whose workers the union serves)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Enterprise


async def search_enterprises(session: AsyncSession, word: str, limit: int) -> Sequence[Enterprise]:
    """Enterprises whose name contains ``word`` ("" for any), oldest first, at most ``limit``."""
    return (
        await session.scalars(
            select(Enterprise)
            .where(Enterprise.name.contains(word, autoescape=True))
            .order_by(Enterprise.id)
            .limit(limit)
        )
    ).all()
