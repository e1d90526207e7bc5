"""The bargaining index (协商指数) that officers and regulators read per enterprise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.memberships import verified_in
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


async def bargaining_index(session: AsyncSession, enterprise: Enterprise) -> Index:
    ids = list(
        await session.scalars(
            select(BargainingSession.id).where(BargainingSession.enterprise_id == enterprise.id)
        )
    )
    members_count = await session.scalar(
        select(func.count()).select_from(Member).where(verified_in(enterprise.id))
    )
    followers = (
        await session.execute(
            select(Follower.session_id, func.count())
            .where(Follower.session_id.in_(ids))
            .group_by(Follower.session_id)
        )
    ).all()
    participation = sum(_share(count, members_count) for _, count in followers)
    ballots = (
        await session.execute(
            select(Ballot.result, Ballot.eligible).where(
                Ballot.session_id.in_(ids),
                Ballot.closed_at.is_not(None),
                Ballot.voided_at.is_(None),
            )
        )
    ).all()
    cast = sum(int((result or {}).get("voted", 0)) for result, _ in ballots)
    eligible = sum(count for _, count in ballots)
    suggestions = (
        await session.execute(
            select(Suggestion.status, func.count())
            .where(Suggestion.session_id.in_(ids))
            .group_by(Suggestion.status)
        )
    ).all()
    by_status = {status: count for status, count in suggestions}
    closes = (
        await session.scalars(
            select(StepTransition.on_time).where(
                StepTransition.session_id.in_(ids),
                StepTransition.action == "close",
                StepTransition.voided_at.is_(None),
            )
        )
    ).all()
    return Index(
        enterprise=enterprise.name,
        sessions=len(ids),
        participation=_share(participation, len(ids)),
        turnout=_share(cast, eligible),
        adopted=_share(by_status.get("adopted", 0), sum(by_status.values())),
        on_time=_share(sum(1 for c in closes if c), len(closes)),
    )


async def bargaining_enterprises(session: AsyncSession) -> Sequence[Enterprise]:
    """Enterprises that have held or are holding a bargaining, for the index."""
    return (
        await session.scalars(
            select(Enterprise)
            .where(Enterprise.id.in_(select(BargainingSession.enterprise_id)))
            .order_by(Enterprise.name)
        )
    ).all()
