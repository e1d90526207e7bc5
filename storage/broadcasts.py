"""Broadcasts: recording one, writing its rows in batches streamed from the database, and
the counters of its outcomes.

A broadcast to an audience never holds its audience in memory: each batch is one
``INSERT ... SELECT`` per language over the next range of member ids (keyset on
``members.id``), and the range's end is committed with its rows, so a leader that dies
mid-way resumes at the next range; the unique ``(broadcast_id, member_id)`` makes a range
written twice harmless. Progress is read from counters, never by counting the outbox:
``total`` on the broadcast and :class:`BroadcastTally` rows kept by
:func:`storage.outbox.record`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, case, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.models import Broadcast, BroadcastTally, Delivery, DeliveryStatus, Member
from storage.models import MemberSettings as Chosen
from storage.types import UTCDateTime

SETTLED = (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.BLOCKED)
QuietChoice = tuple[bool, str | None, str | None]
"""A member's ``(quiet_hours, quiet_start, quiet_end)`` settings."""


async def create_broadcast(
    session: AsyncSession,
    key: str,
    notice_id: int | None,
    urgent: bool,
    now: datetime,
    recipe: dict[str, Any] | None = None,
) -> Broadcast | None:
    """A new broadcast, or None when one with this key was already written. Without a
    recipe its rows are written directly, so it counts as expanded at once."""
    if await session.scalar(select(Broadcast.id).where(Broadcast.key == key)) is not None:
        return None
    broadcast = Broadcast(
        key=key,
        notice_id=notice_id,
        urgent=urgent,
        created_at=now,
        recipe=recipe,
        total=0,
        expanded_to=0,
        expanded_at=None if recipe is not None else now,
    )
    session.add(broadcast)
    await session.flush()
    return broadcast


async def next_to_expand(session: AsyncSession) -> Broadcast | None:
    """The oldest broadcast with rows still to write, locked until the transaction ends
    (on PostgreSQL; SQLite has one writer at a time)."""
    found: Broadcast | None = await session.scalar(
        select(Broadcast)
        .where(Broadcast.expanded_at.is_(None))
        .order_by(Broadcast.id)
        .limit(1)
        .with_for_update()
    )
    return found


async def batch_end(
    session: AsyncSession, condition: ColumnElement[bool], after: int, size: int
) -> int | None:
    """The id of the ``size``-th member after ``after`` matching ``condition``; None when
    fewer are left (the last batch)."""
    found: int | None = await session.scalar(
        select(Member.id)
        .where(Member.id > after, condition)
        .order_by(Member.id)
        .offset(size - 1)
        .limit(1)
    )
    return found


def _in_range(
    column: InstrumentedAttribute[int], after: int, upto: int | None
) -> ColumnElement[bool]:
    return column > after if upto is None else (column > after) & (column <= upto)


async def quiet_choices(
    session: AsyncSession, condition: ColumnElement[bool], after: int, upto: int | None
) -> list[QuietChoice]:
    """The distinct quiet-hour settings of the range's members matching ``condition``
    (usually a handful)."""
    rows = await session.execute(
        select(Chosen.quiet_hours, Chosen.quiet_start, Chosen.quiet_end)
        .join(Member, Member.id == Chosen.member_id)
        .where(_in_range(Member.id, after, upto), condition)
        .distinct()
    )
    return [(bool(quiet), start, end) for quiet, start, end in rows]


def release_times(
    default: datetime, chosen: Mapping[QuietChoice, datetime]
) -> ColumnElement[datetime]:
    """Each member's ``not_before``, on the row of :class:`MemberSettings` joined to the
    member: ``default`` without one, else the time given for their choice."""
    typed = UTCDateTime()
    whens = [
        (
            Chosen.quiet_hours.is_(quiet)
            & Chosen.quiet_start.is_not_distinct_from(start)
            & Chosen.quiet_end.is_not_distinct_from(end),
            literal(when, typed),
        )
        for (quiet, start, end), when in chosen.items()
    ]
    if not whens:
        return literal(default, typed)
    return case(*whens, else_=literal(default, typed))


async def write_batch(
    session: AsyncSession,
    broadcast: Broadcast,
    condition: ColumnElement[bool],
    bodies: Mapping[str, dict[str, Any]],
    default_language: str,
    priority: int,
    not_before: ColumnElement[datetime],
    upto: int | None,
    now: datetime,
) -> int:
    """Write the rows of the members after ``broadcast.expanded_to`` up to ``upto``, one
    statement per language, and commit the range's end with them (in the caller's
    transaction); the last batch (``upto`` None) marks the broadcast expanded. Returns how
    many rows were written."""
    after = broadcast.expanded_to
    others = [language for language in bodies if language != default_language]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    columns = ["broadcast_id", "member_id", "status", "attempts", "priority", "not_before", "body"]
    written = 0
    for language, body in bodies.items():
        speaks = (
            Member.language.not_in(others)
            if language == default_language
            else Member.language == language
        )
        rows = (
            select(
                literal(broadcast.id),
                Member.id,
                literal(DeliveryStatus.PENDING.value),
                literal(0),
                literal(priority),
                not_before,
                literal(body, JSON()),
            )
            .outerjoin(Chosen, Chosen.member_id == Member.id)
            .where(_in_range(Member.id, after, upto), speaks, condition)
        )
        adding = (
            dialect.insert(Delivery)
            .from_select(columns, rows)
            .on_conflict_do_nothing(index_elements=["broadcast_id", "member_id"])
        )
        result = await session.execute(adding)
        written += int(getattr(result, "rowcount", 0))
    values: dict[str, Any] = {"total": Broadcast.total + written}
    if upto is None:
        values["expanded_at"] = now
    else:
        values["expanded_to"] = upto
    await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return written


async def tally(session: AsyncSession, changes: Mapping[tuple[int, str, str], int]) -> None:
    """Add to the counters: ``(broadcast_id, route, status) -> n`` (negative to take off).
    Keys in one order, so that two transactions lock the counter rows in the same order."""
    rows = [
        {"broadcast_id": b, "route": route, "status": status, "count": n}
        for (b, route, status), n in sorted(changes.items())
        if n
    ]
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    adding = dialect.insert(BroadcastTally).values(rows)
    await session.execute(
        adding.on_conflict_do_update(
            index_elements=["broadcast_id", "route", "status"],
            set_={"count": BroadcastTally.count + adding.excluded.count},
        )
    )


async def tallies(
    session: AsyncSession, broadcast_ids: Sequence[int]
) -> dict[int, dict[tuple[str, str], int]]:
    """Each broadcast's settled rows by ``(route, status)``."""
    rows = await session.execute(
        select(
            BroadcastTally.broadcast_id,
            BroadcastTally.route,
            BroadcastTally.status,
            BroadcastTally.count,
        ).where(BroadcastTally.broadcast_id.in_(broadcast_ids))
    )
    found: dict[int, dict[tuple[str, str], int]] = {id_: {} for id_ in broadcast_ids}
    for broadcast_id, route, status, count in rows:
        found[broadcast_id][route, status] = count
    return found


def by_status(
    broadcasts: Sequence[Broadcast], tallied: Mapping[int, Mapping[tuple[str, str], int]]
) -> dict[int, dict[str, int]]:
    """How many rows of each broadcast are in each status, from its :func:`tallies`: those
    not settled yet are ``pending``."""
    found: dict[int, dict[str, int]] = {}
    for broadcast in broadcasts:
        statuses: dict[str, int] = {}
        for (_, status), n in tallied.get(broadcast.id, {}).items():
            if n:
                statuses[status] = statuses.get(status, 0) + n
        pending = broadcast.total - sum(statuses.values())
        if pending:
            statuses[DeliveryStatus.PENDING] = pending
        found[broadcast.id] = statuses
    return found


async def recent_broadcasts(session: AsyncSession, limit: int) -> list[Broadcast]:
    rows = await session.scalars(
        select(Broadcast).order_by(Broadcast.created_at.desc(), Broadcast.id.desc()).limit(limit)
    )
    return list(rows)
