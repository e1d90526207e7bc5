"""Singles' events: places for women and men (or a total), a waitlist per group, check-in.

Times are UTC columns (``starts_at``, ``signup_deadline``) so reminders can hook on them.
A sign-up row is kept when cancelled (``status``), so a member has one row per event and the
unique key forbids a double sign-up; ``/forget`` clears ``member_id`` of past rows.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.core import Base, _in
from storage.types import utcnow


class Side(StrEnum):
    """Which places a sign-up counts against: women's, men's, or the shared total."""

    FEMALE = "f"
    MALE = "m"
    ALL = "all"


class SignUpStatus(StrEnum):
    CONFIRMED = "confirmed"
    WAITLIST = "waitlist"
    CANCELLED = "cancelled"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("signup_deadline <= starts_at", name="deadline_before_start"),
        CheckConstraint(
            "(places_total IS NULL) <> (places_women IS NULL AND places_men IS NULL)",
            name="places_total_or_split",
        ),
        CheckConstraint(
            "(places_women IS NULL) = (places_men IS NULL)", name="places_women_and_men"
        ),
        CheckConstraint(
            "coalesce(places_total, 1) > 0 AND coalesce(places_women, 0) >= 0"
            " AND coalesce(places_men, 0) >= 0",
            name="places_positive",
        ),
        CheckConstraint("age_min IS NULL OR age_max IS NULL OR age_min <= age_max", name="ages"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text)
    place: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    signup_deadline: Mapped[datetime]
    places_women: Mapped[int | None]
    places_men: Mapped[int | None]
    places_total: Mapped[int | None]
    age_min: Mapped[int | None]
    age_max: Mapped[int | None]
    profile_required: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def split(self) -> bool:
        return self.places_total is None

    def places(self, side: str) -> int:
        if side == Side.FEMALE:
            return self.places_women or 0
        if side == Side.MALE:
            return self.places_men or 0
        return self.places_total or 0


class SignUp(Base):
    __tablename__ = "event_signups"
    __table_args__ = (
        UniqueConstraint("event_id", "member_id"),
        CheckConstraint(_in("status", tuple(SignUpStatus)), name="status"),
        CheckConstraint(_in("side", tuple(Side)), name="side"),
        Index("ix_event_signups_queue", "event_id", "side", "status", "queued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    side: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10))
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    """When they joined (or re-joined) this event's list: the waitlist is served in order."""
    code: Mapped[str | None] = mapped_column(String(8), unique=True)
    """Check-in code, given with a confirmed place."""
    checked_in_at: Mapped[datetime | None]
