"""The bargaining index (协商指数) that officers and regulators read per enterprise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.memberships import Status
from storage.models import Enterprise, Member
from storage.models.bargaining import (
    Ballot,
    BargainingSession,
    Follower,
    StepTransition,
    Suggestion,
)


@dataclass(frozen=True)
class Index:
    """The bargaining index (协商指数) of one enterprise, 0 to 100.

    ``100 × (0.3 P + 0.3 T + 0.2 A + 0.2 O)`` over all the enterprise's sessions, where
    P (participation) is the mean over its sessions of followers / verified members of
    the enterprise, T (turnout) is votes cast / voters eligible over its closed ballots, A is
    suggestions adopted / suggestions made, and O is steps closed on time (within
    :data:`STEP_DAYS` of opening) / steps closed. A share with nothing to divide by counts
    as 0, and each share is capped at 1.
    """

    enterprise: str
    sessions: int
    participation: float
    turnout: float
    adopted: float
    on_time: float

    @property
    def value(self) -> float:
        return 100 * (
            0.3 * self.participation + 0.3 * self.turnout + 0.2 * self.adopted + 0.2 * self.on_time
        )


def _share(part: int | float | None, whole: int | None) -> float:
    return min(1.0, (part or 0) / whole) if whole else 0.0


def _indexed() -> Select[int]:
    return select(BargainingSession.enterprise_id).distinct()


async def indexed_count(session: AsyncSession) -> int:
    """How many enterprises have held or are holding a bargaining."""
    found = await session.scalar(select(func.count()).select_from(_indexed().subquery()))
    return found or 0


async def bargaining_indexes(session: AsyncSession, offset: int, limit: int) -> list[Index]:
    """A page of the index, enterprises by name: six grouped queries for the whole page,
    whatever the number of enterprises or sessions."""
    enterprises = (
        await session.execute(
            select(Enterprise.id, Enterprise.name)
            .where(Enterprise.id.in_(_indexed()))
            .order_by(Enterprise.name, Enterprise.id)
            .offset(offset)
            .limit(limit)
        )
    ).all()
    ids = [enterprise_id for enterprise_id, _ in enterprises]
    of_page = BargainingSession.enterprise_id.in_(ids)
    members = dict(
        (
            await session.execute(
                select(Member.enterprise_id, func.count())
                .where(Member.enterprise_id.in_(ids), Member.enterprise_status == Status.VERIFIED)
                .group_by(Member.enterprise_id)
            )
        ).all()
    )
    sessions: dict[int, int] = {}
    participation: dict[int, float] = {}
    followers = await session.execute(
        select(BargainingSession.enterprise_id, func.count(Follower.id))
        .outerjoin(Follower, Follower.session_id == BargainingSession.id)
        .where(of_page)
        .group_by(BargainingSession.enterprise_id, BargainingSession.id)
    )
    for enterprise_id, count in followers:
        sessions[enterprise_id] = sessions.get(enterprise_id, 0) + 1
        share = _share(count, members.get(enterprise_id))
        participation[enterprise_id] = participation.get(enterprise_id, 0.0) + share
    turnout = await _sums(
        session,
        select(
            BargainingSession.enterprise_id,
            func.sum(func.coalesce(Ballot.result["voted"].as_integer(), 0)),
            func.sum(Ballot.eligible),
        )
        .join(Ballot, Ballot.session_id == BargainingSession.id)
        .where(of_page, Ballot.closed_at.is_not(None), Ballot.voided_at.is_(None)),
    )
    adopted = await _sums(
        session,
        select(
            BargainingSession.enterprise_id,
            func.sum(case((Suggestion.status == "adopted", 1), else_=0)),
            func.count(Suggestion.id),
        )
        .join(Suggestion, Suggestion.session_id == BargainingSession.id)
        .where(of_page),
    )
    on_time = await _sums(
        session,
        select(
            BargainingSession.enterprise_id,
            func.sum(case((StepTransition.on_time.is_(True), 1), else_=0)),
            func.count(StepTransition.id),
        )
        .join(StepTransition, StepTransition.session_id == BargainingSession.id)
        .where(of_page, StepTransition.action == "close", StepTransition.voided_at.is_(None)),
    )
    return [
        Index(
            enterprise=name,
            sessions=sessions.get(enterprise_id, 0),
            participation=_share(participation.get(enterprise_id), sessions.get(enterprise_id)),
            turnout=_share(*turnout.get(enterprise_id, (0, 0))),
            adopted=_share(*adopted.get(enterprise_id, (0, 0))),
            on_time=_share(*on_time.get(enterprise_id, (0, 0))),
        )
        for enterprise_id, name in enterprises
    ]


async def _sums(session: AsyncSession, query: Select[int, Any, int]) -> dict[int, tuple[int, int]]:
    """``(part, whole)`` per enterprise of a query selecting the enterprise and two sums."""
    rows = await session.execute(query.group_by(BargainingSession.enterprise_id))
    return {enterprise_id: (int(part or 0), int(whole or 0)) for enterprise_id, part, whole in rows}
