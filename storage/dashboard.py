"""What the officials' dashboard reads: every enterprise's bargaining and its index over
sessions, broadcasts' deliveries by status and channel over time, events' places.

Each table is a few grouped queries, whatever the number of rows behind it; the dashboard
and its CSV downloads read the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.bargaining import FINISHED, STEP_DAYS
from storage.bargaining_index import Index
from storage.models import Enterprise, Identity, Member
from storage.models.bargaining import (
    Ballot,
    BargainingSession,
    Follower,
    StepTransition,
    Suggestion,
)
from storage.models.notices import Broadcast, Delivery

SESSIONS_SHOWN = 500
DELIVERY_DAYS = 14


@dataclass(frozen=True)
class SessionRow:
    session_id: int
    enterprise: str
    title: str
    year: int
    step: int
    step_started_at: datetime
    guide_days: int | None
    overdue: bool
    index: float


async def sessions(session: AsyncSession, now: datetime) -> list[SessionRow]:
    """Every session, newest first, with its step, whether the step is past its guide time
    (``storage.bargaining.STEP_DAYS``) and the bargaining index of that session alone."""
    rows = (
        await session.execute(
            select(BargainingSession, Enterprise.name)
            .join(Enterprise, Enterprise.id == BargainingSession.enterprise_id)
            .order_by(BargainingSession.created_at.desc(), BargainingSession.id.desc())
            .limit(SESSIONS_SHOWN)
        )
    ).all()
    indexes = await _session_indexes(session, [bs.id for bs, _ in rows])
    found = []
    for bs, enterprise in rows:
        days = STEP_DAYS.get(bs.step) if bs.step < FINISHED else None
        late = days is not None and now - bs.step_started_at > timedelta(days=days)
        found.append(
            SessionRow(
                bs.id,
                enterprise,
                bs.title,
                bs.year,
                bs.step,
                bs.step_started_at,
                days,
                late,
                indexes.get(bs.id, 0.0),
            )
        )
    return found


def _share(part: int | None, whole: int | None) -> float:
    return min(1.0, (part or 0) / whole) if whole else 0.0


async def _session_indexes(session: AsyncSession, ids: list[int]) -> dict[int, float]:
    """The index formula (:class:`storage.bargaining_index.Index`) applied to each session
    on its own, so a chart can show an enterprise's index from session to session."""
    of = BargainingSession.id.in_(ids)

    async def pairs(query: object) -> dict[int, tuple[int, int]]:
        result = await session.execute(query)  # type: ignore[call-overload]
        return {sid: (int(a or 0), int(b or 0)) for sid, a, b in result}

    participation = await pairs(
        select(
            BargainingSession.id,
            select(func.count(Follower.id))
            .where(Follower.session_id == BargainingSession.id)
            .scalar_subquery(),
            select(func.count(Member.id))
            .where(Member.enterprise_id == BargainingSession.enterprise_id)
            .scalar_subquery(),
        ).where(of)
    )
    turnout = await pairs(
        select(
            Ballot.session_id,
            func.sum(func.coalesce(Ballot.result["voted"].as_integer(), 0)),
            func.sum(Ballot.eligible),
        )
        .where(Ballot.session_id.in_(ids), Ballot.closed_at.is_not(None))
        .group_by(Ballot.session_id)
    )
    adopted = await pairs(
        select(
            Suggestion.session_id,
            func.sum(case((Suggestion.status == "adopted", 1), else_=0)),
            func.count(Suggestion.id),
        )
        .where(Suggestion.session_id.in_(ids))
        .group_by(Suggestion.session_id)
    )
    on_time = await pairs(
        select(
            StepTransition.session_id,
            func.sum(case((StepTransition.on_time.is_(True), 1), else_=0)),
            func.count(StepTransition.id),
        )
        .where(StepTransition.session_id.in_(ids), StepTransition.action == "close")
        .group_by(StepTransition.session_id)
    )
    return {
        sid: Index(
            enterprise="",
            sessions=1,
            participation=_share(*participation.get(sid, (0, 0))),
            turnout=_share(*turnout.get(sid, (0, 0))),
            adopted=_share(*adopted.get(sid, (0, 0))),
            on_time=_share(*on_time.get(sid, (0, 0))),
        ).value
        for sid in ids
    }


@dataclass(frozen=True)
class DeliveryCount:
    broadcast_id: int
    key: str
    day: date
    channel: str
    status: str
    count: int


async def delivery_counts(session: AsyncSession, now: datetime) -> list[DeliveryCount]:
    """Deliveries of broadcasts created in the last :data:`DELIVERY_DAYS` days, counted by
    broadcast, day (UTC) of creation, the recipient's channel and status."""
    channels = (
        select(Identity.member_id, func.min(Identity.channel).label("channel"))
        .group_by(Identity.member_id)
        .subquery()
    )
    day, channel = func.date(Broadcast.created_at), channels.c.channel
    rows = await session.execute(
        select(Broadcast.id, Broadcast.key, day, channel, Delivery.status, func.count())
        .join(Delivery, Delivery.broadcast_id == Broadcast.id)
        .outerjoin(channels, channels.c.member_id == Delivery.member_id)
        .where(Broadcast.created_at >= now - timedelta(days=DELIVERY_DAYS))
        .group_by(Broadcast.id, Broadcast.key, day, channel, Delivery.status)
        .order_by(Broadcast.id.desc())
    )
    return [
        DeliveryCount(bid, key, date.fromisoformat(str(d)[:10]), ch or "-", status, n)
        for bid, key, d, ch, status, n in rows
    ]
