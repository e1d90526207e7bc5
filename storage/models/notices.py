"""Notices, broadcasts, the durable outbox, reminder subscriptions and member settings.

Every message the bot sends a member other than the direct reply is an outbox row
(:class:`Delivery`), written in the transaction that decided to send it. A broadcast is one
batch of such rows (a notice sent to its audience, or one firing of a reminder), so a sender
that dies part-way carries on from the rows and never messages anyone twice.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.core import Base
from storage.types import utcnow


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    """Claimed by the sender just before the send; found so after a crash it is unknown."""
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"


class Route(StrEnum):
    """How a message reached (or waits for) a member on WeChat; recorded on its delivery row
    with a short reason. Telegram and the console leave it empty."""

    PASSIVE = "passive"
    """The webhook's answer to the member's own message, within WeChat's 5 seconds."""
    CUSTOMER_SERVICE = "customer_service"
    TEMPLATE = "template"
    MASS = "mass"
    INBOX = "inbox"
    """Kept for ``/inbox``: no allowance left; counts as delivered."""


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
    urgent: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Sent as urgent (``/notice urgent``): through quiet hours, on WeChat by template
    before anything else."""


class Broadcast(Base):
    """One batch of messages: a notice to its audience, or one firing of a reminder.

    ``key`` names what caused it (``notice:7``, ``notice_deadline:7:20261201T0100Z``) and is
    unique, so a job that runs again after a crash finds its batch already written.

    A broadcast to an audience is recorded first with its ``recipe`` (who, as data the
    leader turns back into SQL, and the message rendered once per language); the leader
    then writes its rows in batches by member id (:mod:`bot.broadcasting`), committing
    ``expanded_to`` with each batch, so after a crash it carries on where it stopped.
    ``expanded_at`` is set when every row is written (at once for rows written directly).
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
    recipe: Mapped[dict[str, Any] | None]
    """What the leader expands (:func:`bot.broadcasting.start`); None for rows written
    directly."""
    total: Mapped[int] = mapped_column(default=0, server_default="0")
    """Rows written so far."""
    expanded_to: Mapped[int] = mapped_column(default=0, server_default="0")
    """The last member id whose row is written: where expansion resumes."""
    expanded_at: Mapped[datetime | None]


class BroadcastTally(Base):
    """How many of a broadcast's rows settled with each status by each route: counters kept
    by :func:`storage.outbox.record`, so progress is read without scanning the outbox
    (pending = ``total`` - settled). ``route`` is "" when the sender did not name one."""

    __tablename__ = "broadcast_tallies"

    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True
    )
    route: Mapped[str] = mapped_column(String(20), primary_key=True)
    status: Mapped[str] = mapped_column(String(8), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


WAITING = text("status = 'pending' AND coalesce_key IS NOT NULL")
"""The rows of :class:`Delivery` of which a member has at most one per coalesce key."""


class Delivery(Base):
    """One message for one member: the outbox row the sender works through.

    ``priority`` orders the sender's work (:class:`bot.delivery.MessageClass`: interactive
    messages before reminders before broadcasts). A member has at most one waiting row per
    ``coalesce_key`` (``meeting:5``): a live row, rendered when it is sent.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "member_id"),
        CheckConstraint(_in("status", tuple(DeliveryStatus)), name="status"),
        CheckConstraint(f"route IS NULL OR {_in('route', tuple(Route))}", name="route"),
        Index("ix_deliveries_due", "status", "priority", "not_before", "id"),
        Index("ix_deliveries_counts", "broadcast_id", "status"),
        Index(
            "ix_deliveries_mass_send",
            "mass_send_id",
            sqlite_where=text("mass_send_id IS NOT NULL"),
            postgresql_where=text("mass_send_id IS NOT NULL"),
        ),
        Index(
            "uq_deliveries_waiting",
            "member_id",
            "coalesce_key",
            unique=True,
            sqlite_where=WAITING,
            postgresql_where=WAITING,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE")
    )
    """The batch it belongs to; None for a message a handler sent one member."""
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(8), default=DeliveryStatus.PENDING)
    reason: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(default=0)
    priority: Mapped[int] = mapped_column(SmallInteger, default=2)
    not_before: Mapped[datetime]
    """Not sent before this: the end of quiet hours, or the next retry after a failure."""
    body: Mapped[dict[str, Any]]
    """The message rendered in the recipient's language, as :func:`bot.messages.to_json`."""
    coalesce_key: Mapped[str | None] = mapped_column(String(40))
    sent_at: Mapped[datetime | None]
    route: Mapped[str | None] = mapped_column(String(16))
    """The :class:`Route` it took, when the channel has routes (WeChat)."""
    route_reason: Mapped[str | None] = mapped_column(String(120))
    """Why that route, e.g. ``customer_service: 3 of 5 left in 48 h window``."""
    mass_send_id: Mapped[int | None] = mapped_column(
        ForeignKey("wechat_mass_sends.id", ondelete="SET NULL")
    )
    """The WeChat mass send that carries this row (see :mod:`storage.wechat_mass`)."""


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
