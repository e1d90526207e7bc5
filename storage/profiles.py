"""Singles' profiles: save after consent, pause, and forget.

``forget`` is the member's right to withdraw (PIPL): it deletes the profile with its
contact, blocks and the reports the member wrote, withdraws them from future events, and
clears their id from past sign-ups, introductions and the view log, which then count for
statistics only. An introduction keeps the pair's keyed hash, which names neither member
but still keeps the pair from being introduced again (blocked or not); a pending one counts
as declined and ends at its time, like any other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import events
from storage.models import DialogState
from storage.models.events import SignUp
from storage.models.singles import (
    CONSENT_VERSION,
    AbuseReport,
    Answer,
    Block,
    Introduction,
    IntroStatus,
    Profile,
    ProfileView,
)

PROFILE_FORM = "profile"
"""The profile form's name: a half-filled one holds personal data too, so /forget drops it."""
PROFILE_FIELDS = (
    "display_name",
    "gender",
    "birth_year",
    "town",
    "employer",
    "show_employer",
    "education",
    "height_cm",
    "occupation",
    "hobbies",
    "intro",
    "seek_age_min",
    "seek_age_max",
    "seek_towns",
    "contact",
)


async def get_profile(session: AsyncSession, member_id: int) -> Profile | None:
    return await session.scalar(select(Profile).where(Profile.member_id == member_id))


async def save_profile(
    session: AsyncSession,
    member_id: int,
    values: dict[str, Any],
    consented_at: datetime,
    now: datetime,
    consent_version: str = CONSENT_VERSION,
) -> Profile:
    """Create or replace the member's profile; ``consented_at`` is when they agreed to the
    consent text of ``consent_version``."""
    profile = await get_profile(session, member_id)
    if profile is None:
        profile = Profile(member_id=member_id)
        session.add(profile)
    for name in PROFILE_FIELDS:
        setattr(profile, name, values[name])
    profile.consented_at, profile.consent_version = consented_at, consent_version
    profile.updated_at = now
    await session.flush()
    return profile


async def forget(session: AsyncSession, member_id: int, now: datetime) -> list[SignUp]:
    """Remove the member's singles' data; returns sign-ups promoted into freed places."""
    promoted = await events.withdraw_member(session, member_id, now)
    await session.execute(
        delete(DialogState).where(
            DialogState.member_id == member_id, DialogState.form == PROFILE_FORM
        )
    )
    await session.execute(delete(Profile).where(Profile.member_id == member_id))
    await session.execute(
        delete(Block).where(or_(Block.member_id == member_id, Block.blocked_id == member_id))
    )
    await session.execute(delete(AbuseReport).where(AbuseReport.reporter_id == member_id))
    await session.execute(
        update(AbuseReport).where(AbuseReport.reported_id == member_id).values(reported_id=None)
    )
    for column, answer in (
        (Introduction.member_a_id, Introduction.answer_a),
        (Introduction.member_b_id, Introduction.answer_b),
    ):
        await session.execute(
            update(Introduction)
            .where(column == member_id, Introduction.status == IntroStatus.PENDING)
            .values({answer.key: Answer.DECLINED})
        )
        await session.execute(
            update(Introduction).where(column == member_id).values({column.key: None})
        )
    await session.execute(
        update(ProfileView).where(ProfileView.member_id == member_id).values(member_id=None)
    )
    await session.flush()
    return promoted
