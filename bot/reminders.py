"""Reminders: one scheduled job per thing and time, fanning out to members when it fires.

Services call this small API (events, ballots, bargaining and notices alike):

- declare a kind on the service's router, as routes are: ``@router.reminder("event")`` on
  ``async def fan_out(app, session, thing_id) -> list[(member_id, MessageBuilder)]``,
  which says who gets what when the reminder fires (read in the same transaction that
  writes the outbox; return ``[]`` when the thing is gone or cancelled); the dispatcher
  collects the kinds of the routers it includes. A kind whose audience may be large
  (a notice to everyone) returns a :class:`~bot.broadcasting.Streamed` instead: who as
  SQL and one message, which the leader expands in batches (:mod:`bot.broadcasting`);
- in a handler, ``ctx.schedule(kind, thing_id, when)`` (applied after the message
  commits, so a rolled-back message schedules nothing) and
  ``ctx.cancel_reminders(kind, thing_id)``;
- elsewhere, ``await app.jobs.schedule_reminder(kind, thing_id, when)`` and
  ``await app.jobs.cancel_reminders(kind, thing_id)``.

Scheduling per thing, not per member, keeps the job store small: APScheduler's SQL job
store costs about a millisecond per job added. A job carries only ``(kind, thing_id,
due)``, names :func:`fire` by reference, and is kept in the project database, so it
survives restarts. When it fires, the fan-out and the outbox rows are written in one
transaction under a unique key (``kind:thing_id:due``), so a job that runs again after a
crash finds its batch already written: a reminder is never sent twice. A reminder missed
while the bot was down runs when the scheduler comes back, if at most
``MISFIRE_GRACE_SECONDS`` late. A job of a kind no router declares (a service removed,
a typo) is logged as an error and kept, paused, rather than dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import MessageBuilder
from bot.delivery import MessageClass
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.app import App
    from bot.broadcasting import Streamed

log = logging.getLogger(__name__)

FanOut = Callable[
    ["App", AsyncSession, int], Awaitable["list[tuple[int, MessageBuilder]] | Streamed"]
]
UrgentOf = Callable[[AsyncSession, int], Awaitable[bool]]
FIRE = "bot.reminders:fire"
"""The job's function, by reference: jobs never hold pickled objects."""


@dataclass(frozen=True)
class Kind:
    fan_out: FanOut
    urgent: bool = False
    """Urgent messages ignore quiet hours."""
    once_per_thing: bool = False
    """The batch key leaves out the time: the thing goes out once however it is scheduled."""
    about_notice: bool = False
    """``thing_id`` is a notice's id: the broadcast is listed under that notice."""
    message_class: MessageClass = MessageClass.REMINDER
    """How the sender ranks and quiet hours hold what it sends (:mod:`bot.delivery`)."""
    urgent_of: UrgentOf | None = None
    """Asked of the thing when the kind is not always ``urgent`` (a notice an officer sent
    as urgent)."""


_app: App | None = None


def bind(app: App | None) -> None:
    """The app whose database and sender fired jobs use (the process's leader)."""
    global _app
    _app = app


def job_id(kind: str, thing_id: int, when: datetime) -> str:
    return f"{kind}:{thing_id}:{when.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def job_prefix(kind: str, thing_id: int) -> str:
    return f"{kind}:{thing_id}:"


async def fire(kind: str, thing_id: int, due: str) -> None:
    """Run by the scheduler: fan out and write the outbox, once per ``(kind, thing, due)``."""
    app = _app
    if app is None:
        log.error("reminder %s:%s fired in a process without an app; skipped", kind, thing_id)
        return
    spec = app.dispatcher.reminder_kinds.get(kind)
    if spec is None:
        log.error(
            "reminder job %s:%s:%s has a kind no router declares; kept, paused", kind, thing_id, due
        )
        await app.jobs.keep_paused(kind, thing_id, due)
        return
    from bot.broadcasting import Streamed, publish, start

    key = f"{kind}:{thing_id}" if spec.once_per_thing else f"{kind}:{thing_id}:{due}"
    how: dict[str, Any] = {
        "cls": spec.message_class,
        "notice_id": thing_id if spec.about_notice else None,
    }
    async with app.sessions() as session, session.begin():
        found = await spec.fan_out(app, session, thing_id)
        how["urgent"] = spec.urgent or (
            spec.urgent_of is not None and await spec.urgent_of(session, thing_id)
        )
        if isinstance(found, Streamed):
            written = await start(session, app.outbox, key, found.to, found.build, utcnow(), **how)
        else:
            written = await publish(session, app.outbox, key, found, utcnow(), **how)
    if written is None:
        log.info("reminder %s already sent; not again", key)
        return
    log.info("reminder %s: %d recipients written", key, written.total)
    app.outbox.wake()
