"""Verified enterprise membership: picking an enterprise in /me is only a request.

A member becomes one of an enterprise's workers (votes, stands, follows its bargaining as a
worker, reads its transcript and tally, gets its notices) only once verified: the
enterprise's chair or an officer approves the request, or the name and employee number or
mobile the member gave match the enterprise's roster (会员名册). Numbers are kept only as
keyed hashes (HMAC-SHA256 under the pepper in the key folder, as the model workers' ID
numbers), so a copy of the database does not hold anybody's mobile. Changing enterprise
drops the verification.

The roster comes from ``unionbot seed`` (section ``roster``, YAML or CSV) or from the chair
in chat (:mod:`handlers.membership`); importing it verifies the pending requests it matches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.model_worker_code import current_key_dir, hash_id_number
from storage.models import Enterprise, Member, RosterEntry

NUMBER = re.compile(r"^[0-9A-Z-]{3,20}$")
"""An employee number (letters, digits, hyphens) or a mainland mobile (11 digits)."""


class Status(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REFUSED = "refused"


def normal_number(text: str) -> str | None:
    """``138 0000 1111`` → ``13800001111``; None when it is neither kind of number."""
    number = "".join(text.split()).upper()
    for wide, narrow in zip("０１２３４５６７８９", "0123456789", strict=True):
        number = number.replace(wide, narrow)
    return number if NUMBER.match(number) else None


def hash_number(number: str) -> str:
    """The roster's key for a number; ``ROSTER:`` keeps it apart from ID-number hashes."""
    return hash_id_number(current_key_dir(), f"ROSTER:{number}")


def _same_name(first: str | None, second: str | None) -> bool:
    if not first or not second:
        return False
    return "".join(first.split()).lower() == "".join(second.split()).lower()


def verified_in(enterprise_id: int) -> ColumnElement[bool]:
    """The SQL condition "a verified member of this enterprise", for every gate."""
    return and_(Member.enterprise_id == enterprise_id, Member.enterprise_status == Status.VERIFIED)


def is_verified(member: Member, enterprise_id: int | None) -> bool:
    return (
        enterprise_id is not None
        and member.enterprise_id == enterprise_id
        and member.enterprise_status == Status.VERIFIED
    )


async def verified_ids(session: AsyncSession, enterprise_id: int) -> list[int]:
    rows = await session.scalars(
        select(Member.id).where(verified_in(enterprise_id)).order_by(Member.id)
    )
    return list(rows)


async def verified_members(session: AsyncSession, enterprise_id: int) -> Sequence[Member]:
    return (
        await session.scalars(select(Member).where(verified_in(enterprise_id)).order_by(Member.id))
    ).all()


async def _roster_match(session: AsyncSession, member: Member) -> bool:
    if member.enterprise_id is None or member.enterprise_number_hash is None:
        return False
    name = await session.scalar(
        select(RosterEntry.name).where(
            RosterEntry.enterprise_id == member.enterprise_id,
            RosterEntry.number_hash == member.enterprise_number_hash,
        )
    )
    return _same_name(name, member.real_name)


async def request(
    session: AsyncSession,
    member: Member,
    enterprise_id: int | None,
    number_hash: str | None,
    now: datetime,
) -> Status | None:
    """The member says they work at ``enterprise_id`` (None: nowhere).

    The same enterprise keeps a verification (and a pending request, unless a new number
    is given to check); another enterprise starts over: verified at once when the roster
    matches, pending otherwise."""
    if member.enterprise_id == enterprise_id and enterprise_id is not None:
        if member.enterprise_status == Status.VERIFIED or (
            member.enterprise_status == Status.PENDING and number_hash is None
        ):
            return Status(member.enterprise_status)
        number_hash = number_hash or member.enterprise_number_hash
    member.enterprise_id = enterprise_id
    member.enterprise_number_hash = number_hash
    if enterprise_id is None:
        member.enterprise_status = member.enterprise_requested_at = None
        return None
    member.enterprise_requested_at = now
    verified = await _roster_match(session, member)
    member.enterprise_status = Status.VERIFIED if verified else Status.PENDING
    await session.flush()
    return Status(member.enterprise_status)


async def pending(
    session: AsyncSession, enterprise_ids: Sequence[int] | None, limit: int = 20
) -> Sequence[Member]:
    """Requests waiting for an answer, oldest first; ``None`` means every enterprise."""
    query = select(Member).where(Member.enterprise_status == Status.PENDING)
    if enterprise_ids is not None:
        query = query.where(Member.enterprise_id.in_(enterprise_ids))
    return (
        await session.scalars(
            query.order_by(Member.enterprise_requested_at, Member.id).limit(limit)
        )
    ).all()


async def answer(session: AsyncSession, member_id: int, approve: bool) -> Member | None:
    """Approve or refuse a pending request; None when there is no such request."""
    member = await session.get(Member, member_id)
    if member is None or member.enterprise_status != Status.PENDING:
        return None
    member.enterprise_status = Status.VERIFIED if approve else Status.REFUSED
    await session.flush()
    return member


async def add_to_roster(
    session: AsyncSession, enterprise_id: int, entries: Sequence[tuple[str, str]]
) -> list[Member]:
    """Upsert (name, number hash) lines; returns the pending members they now verify."""
    for name, number_hash in entries:
        found = await session.scalar(
            select(RosterEntry).where(
                RosterEntry.enterprise_id == enterprise_id,
                RosterEntry.number_hash == number_hash,
            )
        )
        if found is None:
            session.add(
                RosterEntry(enterprise_id=enterprise_id, name=name, number_hash=number_hash)
            )
        else:
            found.name = name
    await session.flush()
    verified = []
    for member in await pending(session, [enterprise_id], limit=100_000):
        if await _roster_match(session, member):
            member.enterprise_status = Status.VERIFIED
            verified.append(member)
    await session.flush()
    return verified


class RosterRow(BaseModel):
    """A roster line: ``enterprise, name, employee_number`` and/or ``mobile``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    enterprise: str
    name: str = Field(min_length=1, max_length=40)
    employee_number: str | None = None
    mobile: str | None = None

    @model_validator(mode="after")
    def _numbers(self) -> RosterRow:
        numbers = [n for n in (self.employee_number, self.mobile) if n is not None]
        if not numbers:
            raise ValueError("a roster line needs an employee_number or a mobile")
        if any(normal_number(n) is None for n in numbers):
            raise ValueError("a number has letters, digits and hyphens only (3 to 20)")
        return self

    def hashes(self) -> list[str]:
        numbers = [normal_number(n) for n in (self.employee_number, self.mobile) if n]
        return [hash_number(n) for n in numbers if n]


async def load_roster(session: AsyncSession, rows: list[tuple[int, RosterRow]]) -> list[str]:
    named = await session.execute(select(Enterprise.name, Enterprise.id))
    enterprise_ids = {name: id_ for name, id_ in named}
    errors = [
        f"line {line}: unknown enterprise {row.enterprise!r}"
        for line, row in rows
        if row.enterprise not in enterprise_ids
    ]
    if errors:
        return errors
    by_enterprise: dict[int, list[tuple[str, str]]] = {}
    for _, row in rows:
        lines = by_enterprise.setdefault(enterprise_ids[row.enterprise], [])
        lines += [(row.name, number_hash) for number_hash in row.hashes()]
    for enterprise_id, entries in by_enterprise.items():
        await add_to_roster(session, enterprise_id, entries)
    return []
