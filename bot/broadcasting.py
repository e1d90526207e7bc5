"""Writing a broadcast, under a unique key so that a job run again after a crash finds it
written and sends nothing more (see :mod:`bot.delivery`).

Two ways, by size:

- :func:`start` for an audience (a notice to everyone, a town, its deadline reminder):
  records the broadcast with its recipe and returns at once, whatever the audience's size.
  The leader's :class:`Expander` then writes the rows, :data:`BATCH` members a
  transaction, streamed from the database (:mod:`storage.broadcasts`), so neither the
  request nor the leader ever holds the audience in memory, and a leader that dies
  mid-way resumes where it stopped. Quiet hours are computed per batch: the release time
  of each distinct quiet-hours setting among the batch's members, as SQL.
- :func:`publish` for a computed handful (an event's reminder to those signed up): the
  rows are written in the caller's transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from bot import audience
from bot.context import MessageBuilder
from bot.delivery import WRITTEN, MessageClass, Outbox
from bot.quiet import member_window, release_time
from bot.settings import Settings
from storage import broadcasts as store
from storage import notices, outbox
from storage.models import Broadcast, MemberSettings
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

BATCH = 10_000
"""Members per expansion transaction on PostgreSQL: large enough that 1,000,000 take about
a minute, small enough that each transaction is short (a tenth of a second or so)."""
SQLITE_BATCH = 2_000
"""On SQLite, where a batch holds the one write lock every message waits for: 10 ms a
batch instead of 100 (100,000 members take a second either way)."""
MAX_QUIET_CHOICES = 500
"""Distinct quiet-hours settings one batch's ``not_before`` expression may spell out (four
bound values each); a batch with more is halved until it has fewer."""


def batch_size(app: App) -> int:
    return BATCH if app.engine.dialect.name == "postgresql" else SQLITE_BATCH


@dataclass(frozen=True)
class Recipients:
    """Who a broadcast goes to, as data the leader turns back into SQL: an audience
    (:mod:`bot.audience`), and optionally only the members who asked to be reminded of a
    thing (``reminded_of``: the reminder kind and the thing's id)."""

    audience: str
    value: str = ""
    reminded_of: tuple[str, int] | None = None


@dataclass(frozen=True)
class Streamed:
    """A reminder's fan-out for a large audience (:mod:`bot.reminders`): who, and what."""

    to: Recipients
    build: MessageBuilder


async def start(
    session: AsyncSession,
    outbox_: Outbox,
    key: str,
    to: Recipients,
    build: MessageBuilder,
    now: datetime,
    *,
    cls: MessageClass = MessageClass.BROADCAST,
    notice_id: int | None = None,
    urgent: bool = False,
) -> Broadcast | None:
    """Record the broadcast ``key`` for the leader to expand; None when it was written
    before. The message is rendered now, once per language."""
    recipe = {
        "audience": to.audience,
        "value": to.value,
        "reminded_of": list(to.reminded_of) if to.reminded_of else None,
        "bodies": outbox_.rendered(build, cls, urgent),
        "priority": cls.value.priority,
        "quiet": cls.value.quiet and not urgent,
    }
    broadcast = await store.create_broadcast(session, key, notice_id, urgent, now, recipe)
    if broadcast is not None:
        await outbox.notify(session)
        session.info[WRITTEN] = True
    return broadcast


async def publish(
    session: AsyncSession,
    outbox_: Outbox,
    key: str,
    recipients: Sequence[tuple[int, MessageBuilder]],
    now: datetime,
    *,
    cls: MessageClass = MessageClass.BROADCAST,
    notice_id: int | None = None,
    urgent: bool = False,
) -> Broadcast | None:
    """Write the broadcast ``key`` and its rows; None when ``key`` was written before."""
    broadcast = await store.create_broadcast(session, key, notice_id, urgent, now)
    if broadcast is None:
        return None
    broadcast.total = await outbox_.write(
        session, recipients, cls, now, broadcast=broadcast.id, urgent=urgent
    )
    if not broadcast.total:
        broadcast.finished_at = broadcast.created_at
    return broadcast


def _condition(recipe: dict[str, Any]) -> ColumnElement[bool]:
    condition = audience.condition(str(recipe["audience"]), str(recipe["value"]))
    if recipe.get("reminded_of"):
        kind, thing_id = recipe["reminded_of"]
        condition = condition & notices.asked_reminder(str(kind), int(thing_id))
    return condition


def _default_language(settings: Settings, bodies: dict[str, Any]) -> str:
    """The language whose body goes to members of any language without one of its own."""
    return settings.default_language if settings.default_language in bodies else next(iter(bodies))


async def expand_batch(
    app: App, size: int | None = None, clock: Callable[[], datetime] = utcnow
) -> bool:
    """Write the next batch of the oldest broadcast still to expand, in one transaction;
    False when there is none. Quiet hours hold rows from ``clock()``, the time of writing."""
    async with app.sessions() as session, session.begin():
        broadcast = await store.next_to_expand(session)
        if broadcast is None:
            return False
        recipe = broadcast.recipe or {}
        condition = _condition(recipe)
        now = clock()
        after = broadcast.expanded_to
        size = size or batch_size(app)
        while True:
            upto = await store.batch_end(session, condition, after, size)
            quiet = recipe.get("quiet", True)
            choices = await store.quiet_choices(session, condition, after, upto) if quiet else []
            if len(choices) <= MAX_QUIET_CHOICES or size == 1:
                break
            size //= 2
        not_before = _release_times(app.settings, now, quiet, choices)
        bodies: dict[str, dict[str, Any]] = recipe.get("bodies", {})
        written = await store.write_batch(
            session,
            broadcast,
            condition,
            bodies,
            _default_language(app.settings, bodies),
            int(recipe.get("priority", MessageClass.BROADCAST.value.priority)),
            not_before,
            upto,
            now,
        )
        if written:
            await outbox.notify(session)
        if upto is None:
            await outbox.close_finished(session, now)
            log.info("broadcast %s: all %d rows written", broadcast.id, broadcast.total + written)
    if written:
        app.outbox.wake()
    return True


def _release_times(
    settings: Settings, now: datetime, quiet: bool, choices: list[store.QuietChoice]
) -> ColumnElement[datetime]:
    """Each row's ``not_before``: now, or the end of the member's quiet hours (the default
    window, or the one of their ``choices`` of quiet-hours settings)."""
    if not quiet:
        return store.release_times(now, {})
    default = release_time(now, member_window(settings, None), settings.zone)
    chosen = {
        choice: release_time(now, member_window(settings, _settings_of(choice)), settings.zone)
        for choice in choices
    }
    return store.release_times(default, chosen)


def _settings_of(choice: store.QuietChoice) -> MemberSettings:
    quiet, start, end = choice
    return MemberSettings(quiet_hours=quiet, quiet_start=start, quiet_end=end)


async def expand_pending(
    app: App,
    size: int | None = None,
    stop: asyncio.Event | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> int:
    """Expand every broadcast still to expand; returns how many batches were written."""
    batches = 0
    while (stop is None or not stop.is_set()) and await expand_batch(app, size, clock):
        batches += 1
    return batches


class Expander:
    """The leader's loop over broadcasts to expand, woken when one is recorded: in-process
    by :meth:`~bot.delivery.Outbox.wake`, from other processes by PostgreSQL ``NOTIFY``,
    else every ``UNIONBOT_SENDER_POLL_SECONDS``."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._wake = asyncio.Event()
        app.outbox.on_wake(self.wake)

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        async with outbox.listening(self.app.engine, self.wake):
            while not stop.is_set():
                self._wake.clear()
                try:
                    await expand_pending(self.app, stop=stop)
                except Exception:
                    log.exception("expanding broadcasts failed")
                if not stop.is_set() and not self._wake.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._wake.wait(), self.app.settings.sender_poll_seconds
                        )
