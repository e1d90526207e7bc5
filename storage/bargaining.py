"""Queries on bargaining sessions: the 10 steps, followers, the meeting, history, the index.

The steps run strictly in order. Each step names what it needs before it can close (the
offer text before "send the offer", the minutes before "minutes"...); only an officer closes
"filing and review" (step 9) or sends a session back to an earlier step, and every change is
recorded in ``bargaining_transitions`` with who, when and what.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import urn
from storage.memberships import Status, is_verified, verified_members
from storage.models import Enterprise, Member, Role, RoleGrant
from storage.models.bargaining import (
    STEPS,
    Ballot,
    BallotPaper,
    BargainingSession,
    Follower,
    Representative,
    StepTransition,
    VoidedText,
)
from storage.refusals import MessageId, Refused

FINISHED = STEPS + 1
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6

STEP_DAYS = {1: 7, 2: 14, 3: 7, 4: 20, 5: 14, 6: 7, 7: 14, 8: 7, 9: 15, 10: 7}
"""How long each step may take to count as "on time" in the bargaining index. Step 4 is the
20 days an employer has to answer an offer, step 9 the 15 days the labour authority has to
review a filed agreement; the others are the federation's own guide values."""

OFFICER_STEP = 9
"""Filing and review: closed by a reviewing officer, never by the chair."""


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


async def active_session(session: AsyncSession, enterprise_id: int) -> BargainingSession | None:
    return await session.scalar(
        select(BargainingSession)
        .where(BargainingSession.enterprise_id == enterprise_id, BargainingSession.step < FINISHED)
        .order_by(BargainingSession.id.desc())
        .limit(1)
    )


async def chair_session(
    session: AsyncSession, enterprise_ids: Sequence[str]
) -> BargainingSession | None:
    """The running session of the first enterprise this chair holds that has one."""
    for scope in enterprise_ids:
        if scope.isascii() and scope.isdigit():
            found = await active_session(session, int(scope))
            if found is not None:
                return found
    return None


async def start_session(
    session: AsyncSession,
    enterprise_id: int,
    chair_id: int,
    kind: str,
    title: str,
    year: int,
    now: datetime,
) -> BargainingSession:
    if await active_session(session, enterprise_id) is not None:
        raise Refused("bargaining.already_running")
    code = new_code()
    while await session.scalar(select(BargainingSession.id).where(BargainingSession.code == code)):
        code = new_code()
    bs = BargainingSession(
        enterprise_id=enterprise_id,
        kind=kind,
        title=title,
        year=year,
        code=code,
        step=1,
        step_started_at=now,
        created_at=now,
    )
    session.add(bs)
    await session.flush()
    session.add(
        StepTransition(session_id=bs.id, step=1, action="start", member_id=chair_id, at=now)
    )
    await session.flush()
    return bs


async def session_by_code(session: AsyncSession, code: str) -> BargainingSession | None:
    return await session.scalar(
        select(BargainingSession).where(BargainingSession.code == code.strip().upper())
    )


async def missing_for_step(session: AsyncSession, bs: BargainingSession) -> str | None:
    """What the current step still needs before it can close (a message id), or None."""
    step = bs.step
    if step == 2:
        elected = await session.scalar(
            select(func.count()).where(Representative.session_id == bs.id)
        )
        return None if elected else "bargaining.needs.election"
    if step == 3 and not bs.offer_text:
        return "bargaining.needs.offer"
    if step == 4 and bs.employer_member_id is None:
        return "bargaining.needs.employer"
    if step == 4 and bs.offer_accepted_at is None:
        return "bargaining.needs.acceptance"
    if step == 5 and bs.meeting_closed_at is None:
        return "bargaining.needs.meeting"
    if step == 6 and not bs.minutes_text:
        return "bargaining.needs.minutes"
    if step == 7:
        passed = await session.scalar(
            select(Ballot.id).where(
                Ballot.session_id == bs.id,
                Ballot.kind == "congress",
                Ballot.passed.is_(True),
                Ballot.voided_at.is_(None),
            )
        )
        return None if passed else "bargaining.needs.congress"
    if step == 8 and not bs.resolution_text:
        return "bargaining.needs.resolution"
    return None


async def close_step(
    session: AsyncSession, bs: BargainingSession, member_id: int, now: datetime, *, officer: bool
) -> int:
    """Close the current step and open the next; returns the new step (11: finished)."""
    if bs.step >= FINISHED:
        raise Refused("bargaining.finished")
    if (bs.step == OFFICER_STEP) != officer:
        raise Refused("bargaining.officer_step" if not officer else "bargaining.chair_step")
    missing = await missing_for_step(session, bs)
    if missing is not None:
        raise Refused("bargaining.still_needs", need=MessageId(missing))
    on_time = now - bs.step_started_at <= timedelta(days=STEP_DAYS[bs.step])
    session.add(
        StepTransition(
            session_id=bs.id,
            step=bs.step,
            action="close",
            member_id=member_id,
            on_time=on_time,
            at=now,
        )
    )
    bs.step += 1
    bs.step_started_at = now
    if bs.step == FINISHED:
        bs.finished_at = now
    await session.flush()
    return bs.step


BALLOT_STEPS = {"election": 2, "congress": 7}
"""The step whose product each kind of ballot is."""


async def reopen_step(
    session: AsyncSession,
    bs: BargainingSession,
    step: int,
    member_id: int,
    note: str,
    now: datetime,
    key_dir: Path,
) -> None:
    """An officer sends a session back to an earlier step, with the reason on record.

    Reopening means redoing: what that step and the later ones produced is voided, kept on
    record but no longer counted, so each of them must be done again: elections and
    congress votes (an open one's sealed papers are deleted and its key erased; the
    elected representatives go with their election), the offer, minutes and resolution
    texts, the employer's acceptance, the meeting, and the closings of those steps
    (the officer's filing review among them)."""
    if not 1 <= step < bs.step:
        raise Refused("bargaining.reopen_range", step=bs.step)
    session.add(
        StepTransition(
            session_id=bs.id, step=step, action="reopen", member_id=member_id, note=note, at=now
        )
    )
    await _void_ballots(session, bs, step, now, key_dir)
    for field, text_step in TEXT_STEPS.items():
        text = getattr(bs, field)
        if text_step >= step and text:
            session.add(
                VoidedText(session_id=bs.id, step=text_step, field=field, text=text, voided_at=now)
            )
            setattr(bs, field, None)
    await session.execute(
        update(StepTransition)
        .where(
            StepTransition.session_id == bs.id,
            StepTransition.action == "close",
            StepTransition.step >= step,
            StepTransition.voided_at.is_(None),
        )
        .values(voided_at=now)
    )
    bs.step = step
    bs.step_started_at = now
    bs.finished_at = None
    if step <= 4:
        bs.offer_accepted_at = None
    if step <= 5:
        bs.meeting_opened_at = bs.meeting_closed_at = None
    await session.flush()


async def _void_ballots(
    session: AsyncSession, bs: BargainingSession, step: int, now: datetime, key_dir: Path
) -> None:
    kinds = [kind for kind, ballot_step in BALLOT_STEPS.items() if ballot_step >= step]
    ballots = await session.scalars(
        select(Ballot).where(
            Ballot.session_id == bs.id, Ballot.kind.in_(kinds), Ballot.voided_at.is_(None)
        )
    )
    for ballot in ballots:
        ballot.voided_at = now
        if ballot.closed_at is None:
            await session.execute(delete(BallotPaper).where(BallotPaper.ballot_id == ballot.id))
            if ballot.public_key:
                urn.erase_key_after_commit(session, key_dir, ballot.id, ballot.public_key)
    if "election" in kinds:
        await session.execute(delete(Representative).where(Representative.session_id == bs.id))


async def transitions(session: AsyncSession, session_id: int) -> Sequence[StepTransition]:
    return (
        await session.scalars(
            select(StepTransition)
            .where(StepTransition.session_id == session_id)
            .order_by(StepTransition.id)
        )
    ).all()


async def follow(
    session: AsyncSession, bs: BargainingSession, member: Member, now: datetime
) -> bool:
    """Join a session as a follower (a verified worker only); False if already following."""
    if member.enterprise_id == bs.enterprise_id and member.enterprise_status == Status.PENDING:
        raise Refused("membership.not_yet_verified")
    if not is_verified(member, bs.enterprise_id):
        raise Refused("bargaining.not_your_enterprise")
    existing = await session.scalar(
        select(Follower.id).where(Follower.session_id == bs.id, Follower.member_id == member.id)
    )
    if existing is not None:
        return False
    session.add(Follower(session_id=bs.id, member_id=member.id, joined_at=now))
    await session.flush()
    return True


async def follower_ids(session: AsyncSession, session_id: int) -> list[int]:
    """Followers who are still verified workers of the session's enterprise."""
    rows = await session.scalars(
        select(Follower.member_id)
        .join(Member, Member.id == Follower.member_id)
        .join(BargainingSession, BargainingSession.id == Follower.session_id)
        .where(
            Follower.session_id == session_id,
            Member.enterprise_id == BargainingSession.enterprise_id,
            Member.enterprise_status == Status.VERIFIED,
        )
        .order_by(Follower.id)
    )
    return list(rows)


async def followed_session(
    session: AsyncSession, member_id: int, *, running: bool = False
) -> BargainingSession | None:
    """The session this member joined last (of those still running, with ``running``)."""
    query = (
        select(BargainingSession)
        .join(Follower, Follower.session_id == BargainingSession.id)
        .where(Follower.member_id == member_id)
        .order_by(Follower.id.desc())
        .limit(1)
    )
    if running:
        query = query.where(BargainingSession.step < FINISHED)
    return await session.scalar(query)


async def chair_ids(session: AsyncSession, enterprise_id: int) -> list[int]:
    """The members who chair this enterprise's union."""
    rows = await session.scalars(
        select(RoleGrant.member_id).where(
            RoleGrant.role == Role.CHAIR, RoleGrant.scope == str(enterprise_id)
        )
    )
    return list(rows)


async def representative_ids(session: AsyncSession, session_id: int) -> list[int]:
    rows = await session.scalars(
        select(Representative.member_id)
        .where(Representative.session_id == session_id)
        .order_by(Representative.id)
    )
    return list(rows)


async def enterprise_members(session: AsyncSession, enterprise_id: int) -> Sequence[Member]:
    """The enterprise's verified workers: who votes, stands and hears the result."""
    return await verified_members(session, enterprise_id)


async def set_employer(session: AsyncSession, bs: BargainingSession, member_id: int) -> Member:
    if bs.step > 5:
        raise Refused("bargaining.too_late")
    member = await session.get(Member, member_id)
    if member is None or member.enterprise_id != bs.enterprise_id:
        raise Refused("bargaining.no_such_member")
    bs.employer_member_id = member.id
    await session.flush()
    return member


async def employer_session(session: AsyncSession, member_id: int) -> BargainingSession | None:
    """The session waiting for this member, as the employer's chief, to accept its offer."""
    return await session.scalar(
        select(BargainingSession)
        .where(BargainingSession.employer_member_id == member_id, BargainingSession.step == 4)
        .order_by(BargainingSession.id.desc())
        .limit(1)
    )


def accept_offer(bs: BargainingSession, member_id: int, now: datetime) -> None:
    """Step 4: only the employer's chief representative accepts the offer, once."""
    if bs.employer_member_id != member_id:
        raise Refused("bargaining.not_the_employer")
    if bs.step != 4:
        raise Refused("bargaining.accept_not_now")
    if bs.offer_accepted_at is not None:
        raise Refused("bargaining.already_accepted")
    bs.offer_accepted_at = now


TEXT_STEPS = {"offer_text": 3, "minutes_text": 6, "resolution_text": 8}
"""Which step each document belongs to; it can be written only while that step is open."""


def set_text(bs: BargainingSession, field: str, text: str) -> None:
    if bs.step != TEXT_STEPS[field]:
        raise Refused("bargaining.not_this_step")
    setattr(bs, field, text)


# History, overview and the bargaining index --------------------------------------------


async def finished_sessions(
    session: AsyncSession, enterprise_id: int
) -> Sequence[BargainingSession]:
    return (
        await session.scalars(
            select(BargainingSession)
            .where(
                BargainingSession.enterprise_id == enterprise_id, BargainingSession.step == FINISHED
            )
            .order_by(BargainingSession.year.desc(), BargainingSession.id.desc())
        )
    ).all()


async def all_sessions(session: AsyncSession) -> list[tuple[BargainingSession, str]]:
    rows = await session.execute(
        select(BargainingSession, Enterprise.name)
        .join(Enterprise, Enterprise.id == BargainingSession.enterprise_id)
        .order_by(Enterprise.name, BargainingSession.year.desc(), BargainingSession.id.desc())
    )
    return [(bs, name) for bs, name in rows]
