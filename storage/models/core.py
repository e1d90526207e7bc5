"""The core tables: members, their channel identities and roles, dialogs and queued messages.

Services add their own models in modules beside this one, on the same :class:`Base`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    MetaData,
    String,
    UniqueConstraint,
    cast,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class Role(StrEnum):
    MEMBER = "member"
    OFFICER = "officer"
    MATCHMAKER = "matchmaker"
    CHAIR = "chair"
    UNIT_STAFF = "unit_staff"
    ADMIN = "admin"


SCOPED_ROLES = (Role.CHAIR, Role.UNIT_STAFF)
"""Roles that hold for one enterprise (chair) or one partner unit (unit_staff) only."""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Enterprise(Base):
    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    city: Mapped[str] = mapped_column(String(40))
    town: Mapped[str | None] = mapped_column(String(40))


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint(_in("language", ("zh_CN", "en")), name="language"),
        CheckConstraint(
            _in("enterprise_status", ("pending", "verified", "refused")), name="enterprise_status"
        ),
        Index("ix_members_enterprise", "enterprise_id", "enterprise_status"),
        Index("ix_members_town", "town"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    real_name: Mapped[str | None] = mapped_column(String(40))
    town: Mapped[str | None] = mapped_column(String(40))
    enterprise_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprises.id", ondelete="SET NULL")
    )
    enterprise_status: Mapped[str | None] = mapped_column(String(9))
    """``pending`` until the chair approves or the roster matches (``verified``), or
    ``refused``; None without an enterprise. Only verified members act as its workers."""
    enterprise_number_hash: Mapped[str | None] = mapped_column(String(64))
    """The keyed hash of the employee number or mobile the member gave, to match a roster."""
    enterprise_requested_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    identities: Mapped[list[Identity]] = relationship(back_populates="member")


Index(
    "ix_members_enterprise_text",
    cast(Member.enterprise_id, String),
    Member.enterprise_status,
)
"""Notices to an enterprise compare its id as text (:func:`storage.types.as_text`), as the
audience value is text; this index serves that comparison."""


class RosterEntry(Base):
    """One line of an enterprise's member roster (会员名册): a name and the keyed hash of an
    employee number or mobile. The number itself is never stored."""

    __tablename__ = "enterprise_roster"
    __table_args__ = (UniqueConstraint("enterprise_id", "number_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    number_hash: Mapped[str] = mapped_column(String(64))


class Identity(Base):
    """One member's account on one channel; a member may have several."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(default=True)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    member: Mapped[Member] = relationship(back_populates="identities")


class RoleGrant(Base):
    __tablename__ = "role_grants"
    __table_args__ = (
        UniqueConstraint("member_id", "role", "scope"),
        CheckConstraint(_in("role", tuple(Role)), name="role"),
        CheckConstraint(
            f"({_in('role', SCOPED_ROLES)}) = (scope <> '')", name="scope_only_for_scoped_roles"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(64), default="")


class LinkCode(Base):
    """A one-time code that attaches another channel's identity to this member."""

    __tablename__ = "link_codes"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime]


class DialogState(Base):
    """Where a member is in a multi-step form, per channel chat, so any process can go on."""

    __tablename__ = "dialog_states"
    __table_args__ = (
        UniqueConstraint("member_id", "channel", "chat_id"),
        CheckConstraint("step >= 0", name="step_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(128))
    form: Mapped[str] = mapped_column(String(64))
    step: Mapped[int]
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class QueuedMessage(Base):
    """A message for an identity whose channel is not running in the sending process.

    The process that runs that channel delivers it (the console at the start of a session).
    """

    __tablename__ = "queued_messages"
    __table_args__ = (Index("ix_queued_messages_identity", "identity_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
