"""One-time invitations to a role, so the first administrator (and later officers, chairs
and unit staff) get their role by sending a code, not by an operator looking up their
platform id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.core import SCOPED_ROLES, Base, Role, _in


class Invite(Base):
    """Only the code's SHA-256 is kept, so a database backup or a leaked row cannot be
    redeemed; ``used_at`` and ``used_by`` record who took it."""

    __tablename__ = "invites"
    __table_args__ = (
        CheckConstraint(_in("role", tuple(Role)), name="role"),
        CheckConstraint(f"({_in('role', SCOPED_ROLES)}) = (scope <> '')", name="scope"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
