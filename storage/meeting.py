"""Queries on the bargaining meeting (step 5): opening and closing it, its numbered
statements, and the transcript a late follower reads page by page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import bargaining, members
from storage.memberships import is_verified
from storage.models import Identity, Member, Role
from storage.models.bargaining import BargainingSession, MeetingStatement
from storage.refusals import Refused

TRANSCRIPT_PAGE = 10
WECHAT = "wechat"


def open_meeting(bs: BargainingSession, now: datetime) -> None:
    if bs.step != 5:
        raise Refused("meeting.not_step")
    if bs.meeting_opened_at is not None and bs.meeting_closed_at is None:
        raise Refused("meeting.already_open")
    bs.meeting_opened_at = now
    bs.meeting_closed_at = None


def set_meeting_time(bs: BargainingSession, when: datetime, now: datetime) -> None:
    """The chair says when the meeting starts: at step 5, in the future, before it opens."""
    if bs.step != 5:
        raise Refused("meeting.not_step")
    if bs.meeting_opened_at is not None:
        raise Refused("meeting.already_held")
    if when <= now:
        raise Refused("meeting.time_in_past")
    bs.meeting_at = when


def close_meeting(bs: BargainingSession, now: datetime) -> None:
    if not meeting_is_open(bs):
        raise Refused("meeting.not_open")
    bs.meeting_closed_at = now


def meeting_is_open(bs: BargainingSession) -> bool:
    return bs.step == 5 and bs.meeting_opened_at is not None and bs.meeting_closed_at is None


async def open_meetings(session: AsyncSession) -> Sequence[BargainingSession]:
    return (
        await session.scalars(
            select(BargainingSession).where(
                BargainingSession.step == 5,
                BargainingSession.meeting_opened_at.is_not(None),
                BargainingSession.meeting_closed_at.is_(None),
            )
        )
    ).all()


async def add_statement(
    session: AsyncSession,
    bs: BargainingSession,
    speaker: Member,
    side: str,
    role: str,
    text: str,
    now: datetime,
) -> MeetingStatement:
    last = await session.scalar(
        select(func.max(MeetingStatement.seq)).where(MeetingStatement.session_id == bs.id)
    )
    statement = MeetingStatement(
        session_id=bs.id,
        seq=(last or 0) + 1,
        speaker_id=speaker.id,
        speaker_name=speaker.display_name,
        side=side,
        role=role,
        text=text,
        at=now,
    )
    session.add(statement)
    await session.flush()
    return statement


async def transcript_page(
    session: AsyncSession, session_id: int, page: int
) -> tuple[Sequence[MeetingStatement], int]:
    """One page of the meeting so far (oldest first) and the number of pages."""
    total = await session.scalar(
        select(func.count()).where(MeetingStatement.session_id == session_id)
    )
    pages = max(1, -(-(total or 0) // TRANSCRIPT_PAGE))
    page = min(max(page, 1), pages)
    statements = (
        await session.scalars(
            select(MeetingStatement)
            .where(MeetingStatement.session_id == session_id)
            .order_by(MeetingStatement.seq)
            .offset((page - 1) * TRANSCRIPT_PAGE)
            .limit(TRANSCRIPT_PAGE)
        )
    ).all()
    return statements, pages


async def statements_after(
    session: AsyncSession, session_id: int, seq: int
) -> Sequence[MeetingStatement]:
    """The statements after number ``seq``, oldest first: what a live viewer has not seen."""
    return (
        await session.scalars(
            select(MeetingStatement)
            .where(MeetingStatement.session_id == session_id, MeetingStatement.seq > seq)
            .order_by(MeetingStatement.seq)
        )
    ).all()


async def may_watch(session: AsyncSession, member: Member, bs: BargainingSession) -> bool:
    """Whether this member may read the meeting, in chat or on the web: officers, the
    enterprise's chair and verified workers, and everyone the meeting is relayed to."""
    grants = await members.role_grants(session, member.id)
    if any(
        role in (Role.OFFICER, Role.ADMIN)
        or (role == Role.CHAIR and scope == str(bs.enterprise_id))
        for role, scope in grants
    ):
        return True
    if is_verified(member, bs.enterprise_id) or member.id == bs.employer_member_id:
        return True
    return member.id in {
        *await bargaining.follower_ids(session, bs.id),
        *await bargaining.representative_ids(session, bs.id),
    }


async def wechat_relays_since_seen(
    session: AsyncSession, member_ids: Sequence[int], session_id: int
) -> dict[int, int]:
    """For the members reached only on WeChat: how many statements of this meeting were
    made since they last wrote to the bot, each of which was one pushed message."""
    seen = (
        select(Identity.member_id, func.max(Identity.last_seen_at).label("seen"))
        .where(Identity.member_id.in_(member_ids))
        .group_by(Identity.member_id)
        .having(func.min(Identity.channel) == WECHAT, func.max(Identity.channel) == WECHAT)
        .subquery()
    )
    since = (
        select(func.count(MeetingStatement.id))
        .where(MeetingStatement.session_id == session_id, MeetingStatement.at > seen.c.seen)
        .scalar_subquery()
    )
    rows = await session.execute(select(seen.c.member_id, since))
    return {member_id: count for member_id, count in rows}
