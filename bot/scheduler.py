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
import pickle
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.date import DateTrigger
from apscheduler.util import datetime_to_utc_timestamp, utc_timestamp_to_datetime
from sqlalchemy import ColumnElement, select, text
from sqlalchemy.exc import DBAPIError

from bot.settings import Settings
from storage.schema import SCHEDULER_TABLE

MISFIRE_GRACE_SECONDS = 3600
"""A job missed while the bot was down still runs if it is at most this late.

With the SQL job store's default of one second, a burst of jobs due together is skipped
as missed, because removing each one from the store takes about a millisecond."""

BATCH = 500
"""Job ids per ``DELETE ... IN`` when replacing jobs in bulk."""
PREFIX_INDEX = f"ix_{SCHEDULER_TABLE}_id_bytes"

ScheduledReminder = tuple[str, int, datetime]
"""``(kind, thing_id, when)``, as handlers collect them with ``ctx.schedule``."""


def sync_url(async_url: str) -> str:
    return async_url.replace("sqlite+aiosqlite:", "sqlite:").replace(
        "postgresql+asyncpg:", "postgresql+psycopg:"
    )


def _starts_with(
    column: Any, prefix: str, dialect: str
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """``column`` starts with ``prefix`` (which ends in ``:``), as a range an index serves:
    from the prefix up to the same with its last character one higher, in byte order
    (``COLLATE "C"`` on PostgreSQL, whose default collation orders ``:`` by other rules)."""
    if dialect == "postgresql":
        column = column.collate("C")
    return column >= prefix, column < prefix[:-1] + chr(ord(prefix[-1]) + 1)


def ensure_prefix_index(store: SQLAlchemyJobStore) -> None:
    """Index the job ids in byte order on PostgreSQL so that cancelling a thing's
    reminders reads only its jobs. APScheduler creates its table itself, so the index is
    added here, once the store has started, rather than by a migration."""
    if store.engine.dialect.name != "postgresql":
        return
    try:
        with store.engine.begin() as connection:
            connection.execute(
                text(
                    f"CREATE INDEX IF NOT EXISTS {PREFIX_INDEX}"
                    f' ON {SCHEDULER_TABLE} ((id COLLATE "C"))'
                )
            )
    except DBAPIError:
        pass  # another process created it at the same moment


def stored_jobs(settings: Settings) -> Iterator[tuple[str, datetime | None, str, tuple[Any, ...]]]:
    """Every stored job as ``(id, next run, name, args)``, soonest first (paused last),
    read a thousand rows at a time so that listing 100,000 jobs takes no more memory than
    listing ten."""
    store = SQLAlchemyJobStore(url=sync_url(settings.database_url), tablename=SCHEDULER_TABLE)
    table = store.jobs_t
    query = select(table.c.id, table.c.next_run_time, table.c.job_state).order_by(
        table.c.next_run_time.asc().nulls_last(), table.c.id
    )
    try:
        table.create(store.engine, checkfirst=True)
        with store.engine.connect() as connection:
            for row in connection.execution_options(yield_per=1000).execute(query):
                state = pickle.loads(row.job_state)
                when = utc_timestamp_to_datetime(row.next_run_time)
                yield row.id, when, state["name"], tuple(state["args"])
    finally:
        store.shutdown()


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
        self._wake_sender: Callable[[], None] = lambda: None

    @property
    def scheduler(self) -> AsyncIOScheduler:
        """Started (paused) on first use, on the running event loop."""
        with self._lock:
            if self._scheduler is None:
                scheduler = create_scheduler(self.settings)
                scheduler.start(paused=True)
                ensure_prefix_index(scheduler._jobstores["default"])
                self._scheduler = scheduler
            return self._scheduler

    def _store(self) -> SQLAlchemyJobStore:
        store = self.scheduler._jobstores["default"]
        assert isinstance(store, SQLAlchemyJobStore)
        return store

    def _write(self, scheduled: list[ScheduledReminder], cancelled: list[tuple[str, int]]) -> int:
        """Cancel, then add, in one transaction of the job store; returns jobs cancelled.

        APScheduler adds a job at a time, each in a transaction of its own (about half a
        millisecond, 54 s for 100,000 on SQLite), and would wake the running scheduler
        for each. Here every row is written as its ``add_job`` would write it, with the
        job state built from one job APScheduler itself checked.
        """
        from bot import reminders

        store = self._store()
        table, dialect = store.jobs_t, store.engine.dialect.name
        now = datetime.now(UTC)
        template = Job(
            self.scheduler,
            id="template",
            func=reminders.FIRE,
            trigger=DateTrigger(now),
            executor="default",
            args=("template", 0, "template"),
            kwargs={},
            name="template",
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
            coalesce=True,
            max_instances=1,
            next_run_time=now,
        ).__getstate__()
        rows: dict[str, dict[str, object]] = {}
        for kind, thing_id, when in scheduled:
            due = when.astimezone(UTC)
            trigger = DateTrigger(due, timezone=self.settings.zone)
            state = {
                **template,
                "id": reminders.job_id(kind, thing_id, due),
                "trigger": trigger,
                "args": (kind, thing_id, f"{due:%Y%m%dT%H%M%SZ}"),
                "name": f"{kind} reminder",
                "next_run_time": trigger.run_date,
            }
            rows[state["id"]] = {
                "id": state["id"],
                "next_run_time": datetime_to_utc_timestamp(trigger.run_date),
                "job_state": pickle.dumps(state, store.pickle_protocol),
            }
        removed = 0
        with store.engine.begin() as connection:
            for kind, thing_id in cancelled:
                prefix = reminders.job_prefix(kind, thing_id)
                result = connection.execute(
                    table.delete().where(*_starts_with(table.c.id, prefix, dialect))
                )
                removed += int(result.rowcount)
            ids = list(rows)
            for start in range(0, len(ids), BATCH):
                connection.execute(table.delete().where(table.c.id.in_(ids[start : start + BATCH])))
            if rows:
                connection.execute(table.insert(), list(rows.values()))
        if rows and self.scheduler.state == STATE_RUNNING:
            self.scheduler.wakeup()
        return removed

    async def schedule_reminder(self, kind: str, thing_id: int, when: datetime) -> None:
        """Fire ``kind`` for ``thing_id`` at ``when``; scheduling the same again is harmless."""
        await self.apply([(kind, thing_id, when)], [])

    async def cancel_reminders(self, kind: str, thing_id: int) -> int:
        """Remove every pending job of this thing; returns how many there were."""
        self.scheduler  # noqa: B018  start it on this loop before going to a thread
        return await asyncio.to_thread(self._write, [], [(kind, thing_id)])

    async def apply(
        self, scheduled: Iterable[ScheduledReminder], cancelled: Iterable[tuple[str, int]]
    ) -> None:
        """What a handler asked for, after its message committed: cancels first."""
        scheduled, cancelled = list(scheduled), list(cancelled)
        if not scheduled and not cancelled:
            return
        self.scheduler  # noqa: B018  start it on this loop before going to a thread
        await asyncio.to_thread(self._write, scheduled, cancelled)

    async def keep_paused(self, kind: str, thing_id: int, due: str) -> None:
        """Store a fired job again, paused, so that one nothing can run stays listed
        (``unionbot jobs`` shows it as paused) instead of vanishing with its reminder."""
        from bot import reminders

        scheduler = self.scheduler
        when = datetime.strptime(due, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)

        def work() -> None:
            scheduler.add_job(
                reminders.FIRE,
                DateTrigger(when, timezone=self.settings.zone),
                args=(kind, thing_id, due),
                id=reminders.job_id(kind, thing_id, when),
                name=f"{kind} reminder",
                next_run_time=None,
                replace_existing=True,
            )

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

    def on_sender_wake(self, wake: Callable[[], None]) -> None:
        self._wake_sender = wake

    def wake_sender(self) -> None:
        """Tell this process's sender that new outbox rows are waiting."""
        self._wake_sender()

    def shutdown(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler = None
