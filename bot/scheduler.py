"""The APScheduler 3 scheduler, with its jobs kept in the project's database.

Jobs name importable functions and carry plain arguments (ids), never pickled objects, so
they survive restarts and code changes. APScheduler's job store is synchronous, so it
reaches the same database through a synchronous driver (sqlite3, psycopg).
"""

from __future__ import annotations

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.settings import Settings
from storage.schema import SCHEDULER_TABLE

MISFIRE_GRACE_SECONDS = 3600
"""A job missed while the bot was down still runs if it is at most this late.

With the SQL job store's default of one second, a burst of jobs due together is skipped
as missed, because removing each one from the store takes about a millisecond."""


def sync_url(async_url: str) -> str:
    return async_url.replace("sqlite+aiosqlite:", "sqlite:").replace(
        "postgresql+asyncpg:", "postgresql+psycopg:"
    )


def create_scheduler(settings: Settings) -> AsyncIOScheduler:
    store = SQLAlchemyJobStore(url=sync_url(settings.database_url), tablename=SCHEDULER_TABLE)
    return AsyncIOScheduler(
        jobstores={"default": store},
        job_defaults={"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
        timezone=settings.zone,
    )
