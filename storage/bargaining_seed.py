"""Seed section ``bargaining:``: sessions (running or past) for the demo and for imports.

A row names its enterprise and members by name (console names for people) and is upserted
by its join ``code``. A past session may carry its workers' congress result, which is
published as a closed ballot without receipts (the papers of an imported vote are not known).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import members
from storage.ballots import congress_passes
from storage.bargaining import FINISHED
from storage.core_seed import CONSOLE
from storage.models import Enterprise
from storage.models.bargaining import (
    Ballot,
    BargainingSession,
    Follower,
    Representative,
    StepTransition,
)
from storage.types import utcnow


class CongressRow(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    in_favour: int = Field(alias="for", ge=0)
    against: int = Field(ge=0)
    abstain: int = Field(ge=0)
    representatives: int = Field(ge=1)


class BargainingRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(pattern="^[A-Z2-9]{6}$")
    enterprise: str
    kind: str = Field(default="wage", pattern="^(wage|skill)$")
    title: str = Field(min_length=2, max_length=100)
    year: int = Field(ge=2000, le=2100)
    step: int = Field(ge=1, le=FINISHED)
    employer: str | None = None
    followers: list[str] = []
    representatives: list[str] = []
    offer: str | None = None
    minutes: str | None = None
    resolution: str | None = None
    congress: CongressRow | None = None


async def load_sessions(session: AsyncSession, rows: list[tuple[int, BargainingRow]]) -> list[str]:
    errors: list[str] = []
    named = await session.execute(select(Enterprise.name, Enterprise.id))
    enterprise_ids = {name: id_ for name, id_ in named}
    now = utcnow()
    for line, row in rows:
        if row.enterprise not in enterprise_ids:
            errors.append(f"line {line}: unknown enterprise {row.enterprise!r}")
            continue
        people = {}
        for name in [*row.followers, *row.representatives, *filter(None, [row.employer])]:
            member = await members.member_by_identity(session, CONSOLE, name)
            if member is None:
                errors.append(f"line {line}: unknown member {name!r}")
            else:
                people[name] = member.id
        if len(people) != len(
            {*row.followers, *row.representatives, *filter(None, [row.employer])}
        ):
            continue
        bs = await session.scalar(
            select(BargainingSession).where(BargainingSession.code == row.code)
        )
        if bs is None:
            started = datetime(row.year, 3, 1, tzinfo=UTC) if row.step == FINISHED else now
            bs = BargainingSession(code=row.code, created_at=started)
            session.add(bs)
        bs.enterprise_id = enterprise_ids[row.enterprise]
        bs.kind, bs.title, bs.year, bs.step = row.kind, row.title, row.year, row.step
        bs.step_started_at = now
        bs.employer_member_id = people[row.employer] if row.employer else None
        bs.offer_text, bs.minutes_text, bs.resolution_text = row.offer, row.minutes, row.resolution
        bs.finished_at = now if row.step == FINISHED else None
        bs.offer_accepted_at = bs.created_at if row.step > 4 else None
        if row.step > 5:
            bs.meeting_opened_at = bs.meeting_closed_at = bs.created_at
        await session.flush()
        await _replace_people(session, bs.id, row, people)
        if row.congress is not None:
            _congress(session, bs, row.congress)
    await session.flush()
    return errors


async def _replace_people(
    session: AsyncSession, session_id: int, row: BargainingRow, people: dict[str, int]
) -> None:
    await session.execute(delete(Follower).where(Follower.session_id == session_id))
    await session.execute(delete(Representative).where(Representative.session_id == session_id))
    await session.execute(delete(StepTransition).where(StepTransition.session_id == session_id))
    await session.execute(
        delete(Ballot).where(Ballot.session_id == session_id, Ballot.kind == "congress")
    )
    session.add_all(Follower(session_id=session_id, member_id=people[n]) for n in row.followers)
    session.add_all(
        Representative(session_id=session_id, member_id=people[n]) for n in row.representatives
    )
    session.add(StepTransition(session_id=session_id, step=1, action="start"))
    session.add_all(
        StepTransition(session_id=session_id, step=step, action="close", on_time=True)
        for step in range(1, row.step)
    )


def _congress(session: AsyncSession, bs: BargainingSession, congress: CongressRow) -> None:
    voted = congress.in_favour + congress.against + congress.abstain
    quorum, majority = "2/3", "1/2"
    session.add(
        Ballot(
            session_id=bs.id,
            kind="congress",
            closes_at=bs.created_at,
            closed_at=bs.created_at,
            quorum=quorum,
            majority=majority,
            eligible=congress.representatives,
            passed=congress_passes(
                voted, congress.in_favour, congress.representatives, quorum, majority
            ),
            result={
                "voted": voted,
                "counts": {
                    "for": congress.in_favour,
                    "against": congress.against,
                    "abstain": congress.abstain,
                },
                "receipts": [],
            },
        )
    )
