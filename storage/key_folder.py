"""The key folder as the database knows it: the folder's fingerprint (see
:mod:`storage.models.keys`) and which of its keys the database's rows depend on."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.model_worker_code import PEPPER_FILE, SIGNING_KEY_FILE
from storage.models.benefits import ModelWorker, WorkerCode
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


async def keys_in_use(session: AsyncSession) -> set[str]:
    """The key files the database's rows depend on: the pepper for the register's hashes,
    the signing key for codes handed out."""
    workers = await session.scalar(select(func.count()).select_from(ModelWorker))
    codes = await session.scalar(select(func.count()).select_from(WorkerCode))
    return {name for name, used in ((PEPPER_FILE, workers), (SIGNING_KEY_FILE, codes)) if used}
