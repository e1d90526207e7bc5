"""The APScheduler 3 scheduler, with its jobs kept in the project's database.

Jobs name importable functions and carry plain arguments (ids), never pickled objects, so
they survive restarts and code changes. APScheduler's job store is synchronous, so it
reaches the same database through a synchronous driver (sqlite3, psycopg), in a thread.

Every process keeps one scheduler, started paused, so that it can add and remove jobs in
the shared store; only the leader (:mod:`bot.leader`) resumes it and runs jobs. The
leader wakes it every ``UNIONBOT_SCHEDULER_WAKEUP_SECONDS``, since APScheduler otherwise
sleeps until the next run time it knows of and would miss an earlier job that another
process added.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from datetime import UTC, datetime

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.settings import Settings
from storage.schema import SCHEDULER_TABLE

MISFIRE_GRACE_SECONDS = 3600
"""A job missed while the bot was down still runs if it is at most this late.

With the SQL job store's default of one second, a burst of jobs due together is skipped
as missed, because removing each one from the store takes about a millisecond."""

ScheduledReminder = tuple[str, int, datetime]
"""``(kind, thing_id, when)``, as handlers collect them with ``ctx.schedule``."""


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


class Jobs:
    """This process's scheduler: adds and removes jobs anywhere, runs them only when leading."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._scheduler: AsyncIOScheduler | None = None
        self._lock = threading.Lock()

    @property
    def scheduler(self) -> AsyncIOScheduler:
        """Started (paused) on first use, on the running event loop."""
        with self._lock:
            if self._scheduler is None:
                scheduler = create_scheduler(self.settings)
                scheduler.start(paused=True)
                self._scheduler = scheduler
            return self._scheduler

    def _add(self, kind: str, thing_id: int, when: datetime) -> None:
        from bot import reminders

        due = when.astimezone(UTC)
        self.scheduler.add_job(
            reminders.FIRE,
            "date",
            run_date=due,
            args=[kind, thing_id, f"{due:%Y%m%dT%H%M%SZ}"],
            id=reminders.job_id(kind, thing_id, due),
            name=f"{kind} reminder",
            replace_existing=True,
        )

    def _remove(self, kind: str, thing_id: int) -> int:
        from bot import reminders

        store = self.scheduler._jobstores["default"]
        prefix = reminders.job_prefix(kind, thing_id)
        with store.engine.begin() as connection:
            result = connection.execute(
                store.jobs_t.delete().where(store.jobs_t.c.id.startswith(prefix, autoescape=True))
            )
        return int(result.rowcount)

    async def schedule_reminder(self, kind: str, thing_id: int, when: datetime) -> None:
        """Fire ``kind`` for ``thing_id`` at ``when``; scheduling the same again is harmless."""
        await self.apply([(kind, thing_id, when)], [])

    async def cancel_reminders(self, kind: str, thing_id: int) -> int:
        """Remove every pending job of this thing; returns how many there were."""
        self.scheduler  # noqa: B018  start it on this loop before going to a thread
        return await asyncio.to_thread(self._remove, kind, thing_id)

    async def apply(
        self, scheduled: Iterable[ScheduledReminder], cancelled: Iterable[tuple[str, int]]
    ) -> None:
        """What a handler asked for, after its message committed: cancels first."""
        scheduled, cancelled = list(scheduled), list(cancelled)
        if not scheduled and not cancelled:
            return
        self.scheduler  # noqa: B018  start it on this loop before going to a thread

        def work() -> None:
            for kind, thing_id in cancelled:
                self._remove(kind, thing_id)
            for kind, thing_id, when in scheduled:
                self._add(kind, thing_id, when)

        await asyncio.to_thread(work)

    def lead(self) -> None:
        """Run jobs: this process is the leader."""
        self.scheduler.resume()

    def follow(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.pause()

    def wakeup(self) -> None:
        """Look at the store again for jobs other processes added."""
        if self._scheduler is not None:
            self._scheduler.wakeup()

    def shutdown(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler = None
