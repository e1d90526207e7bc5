"""The singles' programme: consented profiles, introductions and their outcomes, the log of
matchmakers' profile views, blocks and abuse reports.

Privacy is built into the shape of the tables: personal data lives only in
:class:`Profile` (one row, deleted whole on ``/forget``); introductions, views and reports
point at members with ``ON DELETE SET NULL``-style nullable keys, so forgetting a member
clears the link and leaves only the counts that statistics need.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.core import Base, _in
from storage.types import utcnow

CONSENT_VERSION = "2026-12"
"""Version of the consent text (``profiles.consent_text``); bump both together."""


class Gender(StrEnum):
    FEMALE = "f"
    MALE = "m"


class Education(StrEnum):
    SECONDARY = "secondary"
    COLLEGE = "college"
    BACHELOR = "bachelor"
    MASTER = "master"


EDUCATION_RANK = {e: rank for rank, e in enumerate(Education)}

HOBBIES = (
    "travel",
    "sports",
    "music",
    "reading",
    "cooking",
    "films",
    "games",
    "outdoors",
    "photography",
    "pets",
)
"""Hobby codes a member picks from, in the order the profile form numbers them."""


class Answer(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class IntroStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    CLOSED = "closed"
    """Its time is over without both accepting: declined, blocked or unanswered, never said
    which, nor by whom."""


class Outcome(StrEnum):
    TALKING = "talking"
    DATING = "dating"
    ENGAGED = "engaged"
    MARRIED = "married"
    ENDED = "ended"


class Profile(Base):
    """One member's singles' profile, stored only after they consented to it."""

    __tablename__ = "singles_profiles"
    __table_args__ = (
        CheckConstraint(_in("gender", tuple(Gender)), name="gender"),
        CheckConstraint(_in("education", tuple(Education)), name="education"),
        CheckConstraint("birth_year BETWEEN 1900 AND 2100", name="birth_year"),
        CheckConstraint("seek_age_min <= seek_age_max", name="seek_age_range"),
        CheckConstraint("height_cm IS NULL OR height_cm BETWEEN 120 AND 230", name="height"),
        Index("ix_singles_profiles_candidates", "gender", "paused"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), unique=True
    )
    display_name: Mapped[str] = mapped_column(String(20))
    gender: Mapped[str] = mapped_column(String(1))
    birth_year: Mapped[int]
    town: Mapped[str] = mapped_column(String(40))
    employer: Mapped[str | None] = mapped_column(String(100))
    show_employer: Mapped[bool] = mapped_column(default=False)
    education: Mapped[str] = mapped_column(String(16))
    height_cm: Mapped[int | None]
    occupation: Mapped[str] = mapped_column(String(40))
    hobbies: Mapped[list[str]] = mapped_column(JSON)
    intro: Mapped[str] = mapped_column(String(200))
    seek_age_min: Mapped[int]
    seek_age_max: Mapped[int]
    seek_towns: Mapped[list[str]] = mapped_column(JSON)
    """Towns they would meet someone from; empty means anywhere."""
    contact: Mapped[str] = mapped_column(String(40))
    paused: Mapped[bool] = mapped_column(default=False)
    consent_version: Mapped[str] = mapped_column(String(16))
    consented_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProfileView(Base):
    """A matchmaker saw a profile: who, whose, when. Officers read this log."""

    __tablename__ = "singles_profile_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    matchmaker_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    viewed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Introduction(Base):
    """A matchmaker's proposal that two members meet: both must accept before either learns
    who the other is. After ``/forget`` the member keys are cleared and only the counts stay."""

    __tablename__ = "singles_introductions"
    __table_args__ = (
        CheckConstraint(_in("status", tuple(IntroStatus)), name="status"),
        CheckConstraint(_in("answer_a", tuple(Answer)), name="answer_a"),
        CheckConstraint(_in("answer_b", tuple(Answer)), name="answer_b"),
        CheckConstraint(f"outcome IS NULL OR {_in('outcome', tuple(Outcome))}", name="outcome"),
        CheckConstraint("member_a_id <> member_b_id", name="two_people"),
        Index("ix_singles_introductions_pair", "member_a_id", "member_b_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    matchmaker_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    member_a_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    member_b_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    pair_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    """The two members as a keyed hash (:func:`storage.matchmaking.pair_key`): kept after
    ``/forget``, so the pair is never introduced again; unique, so it is introduced once."""
    answer_a: Mapped[str] = mapped_column(String(10), default=Answer.PENDING)
    answer_b: Mapped[str] = mapped_column(String(10), default=Answer.PENDING)
    status: Mapped[str] = mapped_column(String(10), default=IntroStatus.PENDING)
    outcome: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    outcome_at: Mapped[datetime | None]


class Block(Base):
    """A member never wants to be introduced to this person again: their own record, kept
    until ``/forget``; after that the introduction's ``pair_key`` keeps the two apart."""

    __tablename__ = "singles_blocks"
    __table_args__ = (UniqueConstraint("member_id", "blocked_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    blocked_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AbuseReport(Base):
    """A member reports someone they were introduced to; officers are told at once."""

    __tablename__ = "singles_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    reported_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    introduction_id: Mapped[int | None] = mapped_column(
        ForeignKey("singles_introductions.id", ondelete="SET NULL")
    )
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
