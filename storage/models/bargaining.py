"""Collective wage bargaining (工资集体协商): sessions walking the 10 steps, their followers,
the meeting transcript, secret ballots and the suggestion box.

Ballot secrecy rests on the schema and on the sealed urn (:mod:`storage.urn`): who may
vote (``ballot_roll``, frozen at opening), who voted (``ballot_voters``) and what was voted
(``ballot_papers``) share no column, key or timestamp, and a paper holds only a ciphertext
under the ballot's public key, whose private key is in the key folder, never here. So even
what the storage itself keeps in order (PostgreSQL's ``xmin`` and ``ctid``, SQLite's pages
and WAL frames) can link a voter to nothing but a ciphertext; the papers are deleted when
they are counted, and the key erased.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.core import Base
from storage.types import utcnow

STEPS = 10
"""The 10 steps of DOMAIN.md §2, numbered 1 to 10; step 11 means the session is finished."""


class BargainingSession(Base):
    __tablename__ = "bargaining_sessions"
    __table_args__ = (
        CheckConstraint("step BETWEEN 1 AND 11", name="step_in_range"),
        CheckConstraint("kind IN ('wage', 'skill')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(
        ForeignKey("enterprises.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(100))
    year: Mapped[int]
    code: Mapped[str] = mapped_column(String(8), unique=True)
    step: Mapped[int] = mapped_column(default=1)
    step_started_at: Mapped[datetime] = mapped_column(default=utcnow)
    employer_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    offer_text: Mapped[str | None] = mapped_column(Text)
    offer_accepted_at: Mapped[datetime | None]
    minutes_text: Mapped[str | None] = mapped_column(Text)
    resolution_text: Mapped[str | None] = mapped_column(Text)
    meeting_at: Mapped[datetime | None]
    """When the chair says the meeting (step 5) starts; followers are reminded before."""
    meeting_opened_at: Mapped[datetime | None]
    meeting_closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class StepTransition(Base):
    """Every change of step: who closed or reopened which step, when, and why."""

    __tablename__ = "bargaining_transitions"
    __table_args__ = (CheckConstraint("action IN ('start', 'close', 'reopen')", name="action"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("bargaining_sessions.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[int]
    action: Mapped[str] = mapped_column(String(8))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(String(200))
    on_time: Mapped[bool | None]
    at: Mapped[datetime] = mapped_column(default=utcnow)
    voided_at: Mapped[datetime | None]
    """Set on a step's closing when the session is sent back to it or an earlier step."""


class VoidedText(Base):
    """An offer, minutes or resolution a reopening voided: kept on record, no longer used."""

    __tablename__ = "bargaining_voided_texts"
    __table_args__ = (
        CheckConstraint("field IN ('offer_text', 'minutes_text', 'resolution_text')", name="field"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("bargaining_sessions.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[int]
    field: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    voided_at: Mapped[datetime]


class Follower(Base):
    __tablename__ = "bargaining_followers"
    __table_args__ = (UniqueConstraint("session_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("bargaining_sessions.id", ondelete="CASCADE")
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class Representative(Base):
    """A workers' representative elected in step 2; they speak in the meeting and vote in
    the workers' congress."""

    __tablename__ = "bargaining_representatives"
    __table_args__ = (UniqueConstraint("session_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("bargaining_sessions.id", ondelete="CASCADE")
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))


class MeetingStatement(Base):
    __tablename__ = "meeting_statements"
    __table_args__ = (
        UniqueConstraint("session_id", "seq"),
        CheckConstraint("side IN ('union', 'employer')", name="side"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("bargaining_sessions.id", ondelete="CASCADE")
    )
    seq: Mapped[int]
    speaker_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    speaker_name: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Ballot(Base):
    """A representative election (step 2) or a workers' congress vote (step 7).

    The congress rule is kept on the ballot as fractions (``quorum`` of representatives
    voting at least, ``majority`` of all representatives for, strictly more), so a changed
    setting never changes a result already published.
    """

    __tablename__ = "ballots"
    __table_args__ = (
        CheckConstraint("kind IN ('election', 'congress')", name="kind"),
        CheckConstraint("max_choices >= 1", name="max_choices_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("bargaining_sessions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    max_choices: Mapped[int] = mapped_column(default=1)
    closes_at: Mapped[datetime]
    quorum: Mapped[str] = mapped_column(String(9), default="2/3")
    majority: Mapped[str] = mapped_column(String(9), default="1/2")
    eligible: Mapped[int] = mapped_column(default=0)
    """The size of the voter roll, frozen when the ballot opened."""
    public_key: Mapped[str | None] = mapped_column(String(44))
    """The urn's public key (base64); None for a result imported without papers."""
    closed_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]
    """Set when the session is sent back to the ballot's step or an earlier one: the ballot
    stays on record but counts for nothing, and the step must vote again."""
    passed: Mapped[bool | None]
    result: Mapped[dict[str, Any] | None]


class BallotCandidate(Base):
    __tablename__ = "ballot_candidates"
    __table_args__ = (
        UniqueConstraint("ballot_id", "position"),
        UniqueConstraint("ballot_id", "member_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ballot_id: Mapped[int] = mapped_column(ForeignKey("ballots.id", ondelete="CASCADE"))
    position: Mapped[int]
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))


class BallotRoll(Base):
    """Who may vote in a ballot: the eligible members at the moment it opened."""

    __tablename__ = "ballot_roll"
    __table_args__ = ({"sqlite_with_rowid": False},)

    ballot_id: Mapped[int] = mapped_column(
        ForeignKey("ballots.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )


class BallotVoter(Base):
    """Who has voted in a ballot (the voter register): one row per member, nothing more."""

    __tablename__ = "ballot_voters"
    __table_args__ = ({"sqlite_with_rowid": False},)

    ballot_id: Mapped[int] = mapped_column(
        ForeignKey("ballots.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )


class BallotPaper(Base):
    """A sealed paper: the receipt and the choice, encrypted, under a random id."""

    __tablename__ = "ballot_papers"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ballot_id: Mapped[int] = mapped_column(ForeignKey("ballots.id", ondelete="CASCADE"))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class Suggestion(Base):
    __tablename__ = "bargaining_suggestions"
    __table_args__ = (CheckConstraint("status IN ('new', 'adopted', 'answered')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("bargaining_sessions.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    anonymous: Mapped[bool] = mapped_column(default=False)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="new")
    answer: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
