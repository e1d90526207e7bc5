"""Notices, broadcasts and their durable outbox, reminder subscriptions and member settings.

A broadcast is one batch of messages (a notice sent to its audience, or one firing of a
reminder); its outbox holds one row per recipient, written before anything is sent, so a
sender that dies part-way carries on from the rows and never messages anyone twice.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.core import Base
from storage.types import utcnow


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    """Claimed by the sender just before the send; found so after a crash it is unknown."""
    SENT = "sent"
    QUEUED = "queued"
    """Handed to ``queued_messages`` for a channel that no serving process runs (console)."""
    FAILED = "failed"
    BLOCKED = "blocked"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Notice(Base):
    """What officers publish: an auction, a competition, news; optionally with a deadline."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(300))
    image: Mapped[str | None] = mapped_column(String(300))
    deadline: Mapped[datetime | None]
    audience: Mapped[str] = mapped_column(String(16), default="all")
    audience_value: Mapped[str] = mapped_column(String(100), default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    send_at: Mapped[datetime | None]
    """When it goes out to its audience; in the future for a notice sent later."""


class Broadcast(Base):
    """One batch of messages: a notice to its audience, or one firing of a reminder.

    ``key`` names what caused it (``notice:7``, ``notice_deadline:7:20261201T0100Z``) and is
    unique, so a job that runs again after a crash finds its batch already written.
    """

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    notice_id: Mapped[int | None] = mapped_column(
        ForeignKey("notices.id", ondelete="CASCADE"), index=True
    )
    urgent: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class Delivery(Base):
    """One recipient of a broadcast: the outbox row the sender works through."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "member_id"),
        CheckConstraint(_in("status", tuple(DeliveryStatus)), name="status"),
        Index("ix_deliveries_due", "status", "not_before", "id"),
        Index("ix_deliveries_counts", "broadcast_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(8), default=DeliveryStatus.PENDING)
    reason: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(default=0)
    not_before: Mapped[datetime]
    """Not sent before this: the end of quiet hours, or the next retry after a failure."""
    body: Mapped[dict[str, Any]]
    """The message rendered in the recipient's language, as :func:`bot.messages.to_json`."""
    sent_at: Mapped[datetime | None]


class ReminderSubscription(Base):
    """A member asked to be reminded of a thing (``kind`` and ``thing_id``: a notice's deadline)."""

    __tablename__ = "reminder_subscriptions"
    __table_args__ = (UniqueConstraint("kind", "thing_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    thing_id: Mapped[int]
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemberSettings(Base):
    """A member's choices about being messaged; no row means the defaults."""

    __tablename__ = "member_settings"
    __table_args__ = (
        CheckConstraint("quiet_start IS NULL OR length(quiet_start) = 5", name="quiet_start"),
        CheckConstraint("quiet_end IS NULL OR length(quiet_end) = 5", name="quiet_end"),
    )

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    reminders: Mapped[bool] = mapped_column(default=True)
    quiet_hours: Mapped[bool] = mapped_column(default=True)
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    """Local ``HH:MM``; None means the configured default."""
    quiet_end: Mapped[str | None] = mapped_column(String(5))
