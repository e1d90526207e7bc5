"""Events: signing up, cancelling, the waitlist, participants and check-in.

Every change to an event's list first locks the event row (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite already serialises writers with ``BEGIN IMMEDIATE``), so two members
asking for the last place at once are served one after the other and never overbook.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, SQLColumnExpression, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.members import LINK_CODE_ALPHABET
from storage.models import Member, MemberSettings
from storage.models.events import Event, Side, SignUp, SignUpStatus
from storage.models.singles import Profile
from storage.refusals import Refused
from storage.types import as_text

CHECK_IN_CODE_LENGTH = 6
ACTIVE = (SignUpStatus.CONFIRMED, SignUpStatus.WAITLIST)


@dataclass(frozen=True)
class Places:
    """Places taken and left per side of one event."""

    event: Event
    taken: dict[str, int]
    waiting: dict[str, int]

    def left(self, side: str) -> int:
        return max(self.event.places(side) - self.taken.get(side, 0), 0)


async def locked_event(session: AsyncSession, event_id: int) -> Event:
    event = await session.scalar(
        select(Event)
        .where(Event.id == event_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if event is None:
        raise Refused("events.unknown")
    return event


async def places(session: AsyncSession, event: Event) -> Places:
    return (await places_of(session, [event]))[0]


async def places_of(session: AsyncSession, events: list[Event]) -> list[Places]:
    """Places taken and waiting for several events, in one query."""
    rows = await session.execute(
        select(SignUp.event_id, SignUp.side, SignUp.status, func.count())
        .where(SignUp.event_id.in_([event.id for event in events]), SignUp.status.in_(ACTIVE))
        .group_by(SignUp.event_id, SignUp.side, SignUp.status)
    )
    taken: dict[int, dict[str, int]] = {event.id: {} for event in events}
    waiting: dict[int, dict[str, int]] = {event.id: {} for event in events}
    for event_id, side, status, count in rows:
        (taken if status == SignUpStatus.CONFIRMED else waiting)[event_id][side] = count
    return [Places(event, taken[event.id], waiting[event.id]) for event in events]


async def upcoming_count(session: AsyncSession, now: datetime) -> int:
    found = await session.scalar(select(func.count()).where(Event.starts_at > now))
    return found or 0


async def upcoming(session: AsyncSession, now: datetime, offset: int, limit: int) -> list[Places]:
    """A page of the events not started yet, soonest first, with their places."""
    page = await session.scalars(
        select(Event)
        .where(Event.starts_at > now)
        .order_by(Event.starts_at, Event.id)
        .offset(offset)
        .limit(limit)
    )
    return await places_of(session, list(page))


def side_of(event: Event, profile: Profile | None) -> str:
    if not event.split:
        return Side.ALL
    assert profile is not None
    return profile.gender


async def sign_up(session: AsyncSession, event_id: int, member_id: int, now: datetime) -> SignUp:
    """Give the member a place, or a place on the waitlist of their side when it is full.

    Refuses, each with its reason: an unknown or past event, after the deadline, a profile
    needed but missing or paused, outside the age range, already signed up.
    """
    event = await locked_event(session, event_id)
    if event.starts_at <= now:
        raise Refused("events.started")
    if now > event.signup_deadline:
        raise Refused("events.deadline_passed")
    profile = await session.scalar(select(Profile).where(Profile.member_id == member_id))
    needs_profile = event.profile_required or event.split or event.age_min or event.age_max
    if needs_profile and profile is None:
        raise Refused("events.needs_profile")
    if profile is not None and (event.age_min or event.age_max):
        age = event.starts_at.year - profile.birth_year
        if not (event.age_min or 0) <= age <= (event.age_max or 200):
            raise Refused(
                "events.outside_age",
                age=age,
                minimum=event.age_min or 18,
                maximum=event.age_max or 99,
            )
    row = await session.scalar(
        select(SignUp).where(SignUp.event_id == event_id, SignUp.member_id == member_id)
    )
    if row is not None and row.status in ACTIVE:
        raise Refused("events.already_signed_up")
    side = side_of(event, profile)
    confirmed = (await places(session, event)).left(side) > 0
    code = await new_code(session) if confirmed else None
    if row is None:
        row = SignUp(event_id=event_id, member_id=member_id)
        session.add(row)
    row.side, row.queued_at, row.checked_in_at = side, now, None
    row.status = SignUpStatus.CONFIRMED if confirmed else SignUpStatus.WAITLIST
    row.code = code
    await session.flush()
    return row


async def waitlist_position(session: AsyncSession, row: SignUp) -> int:
    ahead = await session.scalar(
        select(func.count()).where(
            SignUp.event_id == row.event_id,
            SignUp.side == row.side,
            SignUp.status == SignUpStatus.WAITLIST,
            SignUp.queued_at <= row.queued_at,
            SignUp.id != row.id,
        )
    )
    return (ahead or 0) + 1


async def cancel_sign_up(
    session: AsyncSession, event_id: int, member_id: int, now: datetime
) -> SignUp | None:
    """Cancel a place or a waitlist entry; returns the sign-up promoted into a freed place."""
    event = await locked_event(session, event_id)
    row = await session.scalar(
        select(SignUp).where(SignUp.event_id == event_id, SignUp.member_id == member_id)
    )
    if row is None or row.status not in ACTIVE:
        raise Refused("events.not_signed_up")
    if event.starts_at <= now:
        raise Refused("events.started")
    was_confirmed = row.status == SignUpStatus.CONFIRMED
    row.status, row.code = SignUpStatus.CANCELLED, None
    await session.flush()
    return await promote_waitlist(session, event, row.side) if was_confirmed else None


async def promote_waitlist(session: AsyncSession, event: Event, side: str) -> SignUp | None:
    """Give a free place of ``side`` to the first in that side's line (the event is locked)."""
    if (await places(session, event)).left(side) <= 0:
        return None
    first = await session.scalar(
        select(SignUp)
        .where(
            SignUp.event_id == event.id,
            SignUp.side == side,
            SignUp.status == SignUpStatus.WAITLIST,
        )
        .order_by(SignUp.queued_at, SignUp.id)
        .limit(1)
    )
    if first is None:
        return None
    first.status = SignUpStatus.CONFIRMED
    first.code = await new_code(session)
    await session.flush()
    return first


async def new_code(session: AsyncSession) -> str:
    while True:
        code = "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(CHECK_IN_CODE_LENGTH))
        if await session.scalar(select(SignUp.id).where(SignUp.code == code)) is None:
            return code


async def member_sign_ups(
    session: AsyncSession, member_id: int, now: datetime
) -> list[tuple[SignUp, Event]]:
    rows = await session.execute(
        select(SignUp, Event)
        .join(Event, Event.id == SignUp.event_id)
        .where(SignUp.member_id == member_id, SignUp.status.in_(ACTIVE), Event.starts_at > now)
        .order_by(Event.starts_at)
    )
    return [(row[0], row[1]) for row in rows]


async def participants(session: AsyncSession, event_id: int) -> list[tuple[SignUp, str]]:
    """Active sign-ups with the name each person goes by (their profile's, else their own)."""
    rows = await session.execute(
        select(SignUp, func.coalesce(Profile.display_name, Member.display_name, ""))
        .outerjoin(Member, Member.id == SignUp.member_id)
        .outerjoin(Profile, Profile.member_id == SignUp.member_id)
        .where(SignUp.event_id == event_id, SignUp.status.in_(ACTIVE))
        .order_by(SignUp.status, SignUp.side, SignUp.queued_at, SignUp.id)
    )
    return [(row[0], row[1]) for row in rows]


async def check_in(session: AsyncSession, code: str, now: datetime) -> SignUp:
    row = await session.scalar(select(SignUp).where(SignUp.code == code.strip().upper()))
    if row is None or row.status != SignUpStatus.CONFIRMED:
        raise Refused("events.bad_code")
    if row.checked_in_at is not None:
        raise Refused("events.already_checked_in")
    row.checked_in_at = now
    return row


async def withdraw_member(session: AsyncSession, member_id: int, now: datetime) -> list[SignUp]:
    """For ``/forget``: cancel future sign-ups (promoting the waitlist) and clear the member
    from past ones, which stay only as counts. Returns the promoted sign-ups."""
    promoted = []
    for _row, event in await member_sign_ups(session, member_id, now):
        moved = await cancel_sign_up(session, event.id, member_id, now)
        if moved is not None:
            promoted.append(moved)
    await session.execute(
        update(SignUp).where(SignUp.member_id == member_id).values(member_id=None, code=None)
    )
    return promoted


async def event_by_title(session: AsyncSession, title: str) -> Event | None:
    return await session.scalar(select(Event).where(Event.title == title))


async def export_rows(session: AsyncSession, event_id: int) -> list[list[str]]:
    """The participants of an event as CSV rows, header first (for officers' export)."""
    header = ["name", "side", "status", "code", "checked_in_at"]
    return [header] + [
        [
            name,
            row.side,
            row.status,
            row.code or "",
            row.checked_in_at.isoformat() if row.checked_in_at else "",
        ]
        for row, name in await participants(session, event_id)
    ]


def confirmed_at(event_id: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """The :class:`Member` row in scope has a confirmed place at the event whose id is
    ``event_id`` (as text): the "event participants" audience."""
    return exists().where(
        SignUp.member_id == Member.id,
        as_text(SignUp.event_id) == event_id,
        SignUp.status == SignUpStatus.CONFIRMED,
    )


async def confirmed_members(
    session: AsyncSession, event_id: int, *, reminders_on: bool = False
) -> list[int]:
    """Members with a confirmed place (not the waitlist, not cancelled); with
    ``reminders_on``, only those who have not switched reminders off."""
    query = select(SignUp.member_id).where(
        SignUp.event_id == event_id,
        SignUp.status == SignUpStatus.CONFIRMED,
        SignUp.member_id.is_not(None),
    )
    if reminders_on:
        query = query.outerjoin(MemberSettings, MemberSettings.member_id == SignUp.member_id).where(
            MemberSettings.reminders.is_not(False)
        )
    rows = await session.scalars(query.order_by(SignUp.member_id))
    return [member_id for member_id in rows if member_id is not None]


async def coming_titled(session: AsyncSession, now: datetime, word: str, limit: int) -> list[Event]:
    """Events not started yet whose title contains ``word`` ("" for any), soonest first."""
    rows = await session.scalars(
        select(Event)
        .where(Event.starts_at > now, Event.title.contains(word, autoescape=True))
        .order_by(Event.starts_at, Event.id)
        .limit(limit)
    )
    return list(rows)


async def events_from(session: AsyncSession, now: datetime) -> list[Event]:
    """Events that have not started yet, soonest first."""
    rows = await session.scalars(
        select(Event).where(Event.starts_at > now).order_by(Event.starts_at, Event.id)
    )
    return list(rows)
