"""Queries on enterprises (the companies whose workers the union serves)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Enterprise


async def list_enterprises(session: AsyncSession) -> Sequence[Enterprise]:
    return (await session.scalars(select(Enterprise).order_by(Enterprise.id))).all()
