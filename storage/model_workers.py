"""The model-worker register: claiming an entry, issuing and checking codes, recording the
services used with them, revoking entries; and the seed sections for the register and for
partner-unit staff.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import ColumnElement, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import members
from storage.model_worker_code import (
    BadToken,
    TokenClaims,
    current_key_dir,
    hash_claim_name,
    hash_id_number,
    mask_name,
    read_token,
    sign_token,
)
from storage.models import Member, Role
from storage.models.benefits import (
    ClaimAttempt,
    CodeCheck,
    Level,
    ModelWorker,
    PartnerUnit,
    ServiceUse,
    UnitService,
    WorkerCode,
)

MAX_CLAIMS_PER_DAY = 5
"""Tries a member has per day to match the register: enough for typos, too few to guess."""
MAX_ENTRY_FAILURES = 10
"""Failed tries aimed at one register entry (its name, or its ID number) within
:data:`ENTRY_LOCK_WINDOW` that lock the entry: guesses spread over many new accounts still
add up on the entry they aim at."""
ENTRY_LOCK_WINDOW = timedelta(hours=24)
MAX_FAILURES_OVERALL = 50
"""Failed tries by everyone within :data:`OVERALL_WINDOW` that pause all claims: guessing
many entries at once from many accounts. Honest claims are a few a day."""
OVERALL_WINDOW = timedelta(hours=1)
MAX_CHECKS_PER_MINUTE = 10
"""Codes one partner-unit staff account may check a minute: a desk serves one worker at a
time, and a live code is one of 10**10 numbers, so guessing needs billions of tries."""
NUMBER_LENGTH = 10
ID_NUMBER = re.compile(r"^\d{17}[\dX]$")


def normal_id_number(text: str) -> str | None:
    """An 18-character national ID number, spaces removed and x upper-cased, or None."""
    number = "".join(text.split()).upper()
    return number if ID_NUMBER.match(number) else None


class ClaimResult(StrEnum):
    MATCHED = "matched"
    ALREADY_YOURS = "already_yours"
    REFUSED = "refused"
    """No match, an entry claimed by another account, or a locked entry: one answer for all,
    so that no answer tells whether a name and ID number are in the register."""
    LIMIT = "limit"
    PAUSED = "paused"


@dataclass(frozen=True)
class ClaimOutcome:
    result: ClaimResult
    newly_locked: list[ModelWorker] = field(default_factory=list)
    """Entries this try locked: officers are told."""
    newly_paused: bool = False
    """This try paused all claims: officers are told."""


async def claims_since(session: AsyncSession, member_id: int, since: datetime) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(ClaimAttempt)
        .where(ClaimAttempt.member_id == member_id, ClaimAttempt.attempted_at >= since)
    )
    return count or 0


async def claims_paused(session: AsyncSession, now: datetime) -> bool:
    """Too many failed tries by everyone in the last hour: nobody may claim for now."""
    return await _failures(session, now - OVERALL_WINDOW) >= MAX_FAILURES_OVERALL


async def _failures(session: AsyncSession, since: datetime, *aimed_at: Any) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(ClaimAttempt)
        .where(ClaimAttempt.matched.is_(False), ClaimAttempt.attempted_at >= since, *aimed_at)
    )
    return count or 0


async def _entry_failures(
    session: AsyncSession, key_dir: Path, worker: ModelWorker, since: datetime
) -> int:
    """Failed tries that gave this entry's name or its ID number."""
    aimed = or_(
        ClaimAttempt.worker_id == worker.id,
        ClaimAttempt.name_hash == hash_claim_name(key_dir, worker.name),
    )
    return await _failures(session, since, aimed)


async def claim(
    session: AsyncSession,
    key_dir: Path,
    member_id: int,
    name: str,
    id_hash: str,
    now: datetime,
    day_start: datetime,
) -> ClaimOutcome:
    """Match name and hashed ID number against the register and link the entry to the
    member. Every try counts towards the member's daily limit, matched or not; failed ones
    also towards the lock of the entries they aimed at and towards the overall pause."""
    if await claims_since(session, member_id, day_start) >= MAX_CLAIMS_PER_DAY:
        return ClaimOutcome(ClaimResult.LIMIT)
    if await claims_paused(session, now):
        return ClaimOutcome(ClaimResult.PAUSED)
    since = now - ENTRY_LOCK_WINDOW
    worker = await session.scalar(select(ModelWorker).where(ModelWorker.id_hash == id_hash))
    matched = (
        worker is not None
        and worker.revoked_at is None
        and _same_name(worker.name, name)
        and worker.member_id in (None, member_id)
        and await _entry_failures(session, key_dir, worker, since) < MAX_ENTRY_FAILURES
    )
    session.add(
        ClaimAttempt(
            member_id=member_id,
            attempted_at=now,
            matched=matched,
            worker_id=None if worker is None else worker.id,
            name_hash=hash_claim_name(key_dir, name),
        )
    )
    await session.flush()
    if not matched or worker is None:
        return ClaimOutcome(
            ClaimResult.REFUSED,
            newly_locked=await _just_locked(session, key_dir, worker, name, since),
            newly_paused=await _failures(session, now - OVERALL_WINDOW) == MAX_FAILURES_OVERALL,
        )
    if worker.member_id == member_id:
        return ClaimOutcome(ClaimResult.ALREADY_YOURS)
    previous = await worker_of(session, member_id)
    if previous is not None:
        previous.member_id = None
        await session.flush()
    worker.member_id = member_id
    worker.claimed_at = now
    await session.flush()
    return ClaimOutcome(ClaimResult.MATCHED)


async def _just_locked(
    session: AsyncSession, key_dir: Path, worker: ModelWorker | None, name: str, since: datetime
) -> list[ModelWorker]:
    """The entries a failed try aimed at (by ID number, or by name) that it locked."""
    normal = "".join(name.split()).lower()
    named = await session.scalars(
        select(ModelWorker).where(func.lower(func.replace(ModelWorker.name, " ", "")) == normal)
    )
    aimed = {entry.id: entry for entry in named}
    if worker is not None:
        aimed[worker.id] = worker
    return [
        entry
        for entry in aimed.values()
        if await _entry_failures(session, key_dir, entry, since) == MAX_ENTRY_FAILURES
    ]


def _same_name(registered: str, given: str) -> bool:
    return "".join(registered.split()).lower() == "".join(given.split()).lower()


async def worker_of(session: AsyncSession, member_id: int) -> ModelWorker | None:
    """The register entry this member claimed (revoked or not)."""
    return await session.scalar(select(ModelWorker).where(ModelWorker.member_id == member_id))


async def verified_level(session: AsyncSession, member_id: int) -> str | None:
    """The level of the member's claimed, unrevoked entry: what benefits depend on."""
    worker = await worker_of(session, member_id)
    return worker.level if worker is not None and worker.revoked_at is None else None


def is_verified_model_worker() -> ColumnElement[bool]:
    """The :class:`Member` row in scope is linked to a register entry that is not revoked:
    the verified model workers."""
    return exists().where(ModelWorker.member_id == Member.id, ModelWorker.revoked_at.is_(None))


async def issue_code(
    session: AsyncSession, worker: ModelWorker, key_dir: Path, now: datetime, lifetime: timedelta
) -> WorkerCode:
    """Sign a new code for the worker and keep it with a fresh short number."""
    while True:
        number = "".join(secrets.choice("0123456789") for _ in range(NUMBER_LENGTH))
        if await session.scalar(select(WorkerCode.id).where(WorkerCode.number == number)) is None:
            break
    claims = TokenClaims(
        token_id=secrets.token_urlsafe(9),
        level=worker.level,
        city=worker.city,
        masked_name=mask_name(worker.name),
        expires_at=(now + lifetime).replace(microsecond=0),
    )
    code = WorkerCode(
        token_id=claims.token_id,
        number=number,
        worker_id=worker.id,
        token=sign_token(key_dir, claims),
        issued_at=now,
        expires_at=claims.expires_at,
    )
    session.add(code)
    await session.flush()
    return code


class Status(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    FORGED = "forged"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Verdict:
    status: Status
    claims: TokenClaims | None = None
    code: WorkerCode | None = None
    worker: ModelWorker | None = None


async def check_code(session: AsyncSession, key_dir: Path, text: str, now: datetime) -> Verdict:
    """Judge a short number or a token: the signature first, then revocation, then expiry."""
    text = text.strip()
    compact = "".join(text.split())
    if compact.isdigit():
        if len(compact) != NUMBER_LENGTH:
            return Verdict(Status.UNKNOWN)
        text = compact
        stored = await session.scalar(select(WorkerCode).where(WorkerCode.number == text))
        if stored is None:
            return Verdict(Status.UNKNOWN)
        text = stored.token
    try:
        claims = read_token(key_dir, text)
    except BadToken:
        return Verdict(Status.FORGED)
    code = await session.scalar(select(WorkerCode).where(WorkerCode.token_id == claims.token_id))
    worker = None if code is None else await session.get(ModelWorker, code.worker_id)
    if code is None or worker is None or worker.revoked_at is not None:
        return Verdict(Status.REVOKED, claims, code, worker)
    if now >= claims.expires_at:
        return Verdict(Status.EXPIRED, claims, code, worker)
    return Verdict(Status.VALID, claims, code, worker)


async def allow_check(session: AsyncSession, staff_member_id: int, now: datetime) -> bool:
    """Count a staff account's check, or refuse it (False) when the account made
    :data:`MAX_CHECKS_PER_MINUTE` in the last minute: a refused one is not made, so a
    numbers guesser gets ten tries a minute. Older checks are of no further use and go."""
    minute_ago = now - timedelta(minutes=1)
    mine = CodeCheck.staff_member_id == staff_member_id
    await session.execute(delete(CodeCheck).where(mine, CodeCheck.checked_at <= minute_ago))
    count = await session.scalar(
        select(func.count()).select_from(CodeCheck).where(mine, CodeCheck.checked_at > minute_ago)
    )
    if (count or 0) >= MAX_CHECKS_PER_MINUTE:
        return False
    session.add(CodeCheck(staff_member_id=staff_member_id, checked_at=now))
    await session.flush()
    return True


async def record_use(
    session: AsyncSession,
    code: WorkerCode,
    unit_id: int,
    staff_member_id: int,
    service_id: int | None,
    now: datetime,
) -> ServiceUse | None:
    """A verification at a unit; the same code checked again there is the same use. A code
    is good at one unit only: None when it was used at another (a code passed on to
    someone else). The code's row is locked, so two units checking it at once cannot both
    record a use."""
    await session.scalar(select(WorkerCode.id).where(WorkerCode.id == code.id).with_for_update())
    use = await session.scalar(select(ServiceUse).where(ServiceUse.code_id == code.id))
    if use is not None:
        return use if use.unit_id == unit_id else None
    use = ServiceUse(
        worker_id=code.worker_id,
        code_id=code.id,
        unit_id=unit_id,
        staff_member_id=staff_member_id,
        service_id=service_id,
        used_at=now,
    )
    session.add(use)
    await session.flush()
    return use


async def set_use_service(
    session: AsyncSession, use_id: int, unit_ids: list[int], service_id: int
) -> ServiceUse | None:
    """Name the service of a use at one of ``unit_ids``; None if either is not theirs."""
    use = await session.get(ServiceUse, use_id)
    service = await session.get(UnitService, service_id)
    if use is None or service is None or use.unit_id not in unit_ids:
        return None
    if service.unit_id != use.unit_id:
        return None
    use.service_id = service_id
    return use


@dataclass(frozen=True)
class UseLine:
    used_at: datetime
    unit: str
    service: str | None


async def uses_of(session: AsyncSession, worker_id: int, limit: int = 20) -> list[UseLine]:
    rows = await session.execute(
        select(ServiceUse.used_at, PartnerUnit.name, UnitService.what)
        .join(PartnerUnit, PartnerUnit.id == ServiceUse.unit_id)
        .outerjoin(UnitService, UnitService.id == ServiceUse.service_id)
        .where(ServiceUse.worker_id == worker_id)
        .order_by(ServiceUse.used_at.desc(), ServiceUse.id.desc())
        .limit(limit)
    )
    return [UseLine(used_at, unit, what) for used_at, unit, what in rows]


async def find_register(session: AsyncSession, name: str) -> list[ModelWorker]:
    return list(
        await session.scalars(
            select(ModelWorker).where(ModelWorker.name == name.strip()).order_by(ModelWorker.id)
        )
    )


async def revoke(session: AsyncSession, worker_id: int, now: datetime) -> ModelWorker | None:
    """Withdraw an entry: its codes stop verifying and its member loses the benefits."""
    worker = await session.get(ModelWorker, worker_id)
    if worker is not None and worker.revoked_at is None:
        worker.revoked_at = now
    return worker


# Seed sections ---------------------------------------------------------------------------


class ModelWorkerRow(BaseModel):
    """A register entry; ``id_number`` is hashed on import and never stored as given."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=2, max_length=40)
    level: Level
    city: str = Field(min_length=1, max_length=40)
    year: int = Field(ge=1950, le=2100)
    id_number: str = Field(repr=False)

    @field_validator("id_number", mode="before")
    @classmethod
    def _id_number(cls, value: object) -> str:
        number = normal_id_number(str(value))
        if number is None:
            raise ValueError("id_number must be 18 characters: 17 digits, then a digit or X")
        return number


class UnitStaffRow(BaseModel):
    """Grants ``unit_staff`` for a partner unit, named, to a console member."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    member: str = Field(min_length=1, max_length=64)
    unit: str = Field(min_length=2, max_length=100)


async def load_model_workers(
    session: AsyncSession, rows: list[tuple[int, ModelWorkerRow]]
) -> list[str]:
    key_dir = current_key_dir()
    errors = []
    seen: dict[str, int] = {}
    for line, row in rows:
        id_hash = hash_id_number(key_dir, row.id_number)
        if id_hash in seen:
            errors.append(f"line {line}: the same id_number as line {seen[id_hash]}")
            continue
        seen[id_hash] = line
        worker = await session.scalar(select(ModelWorker).where(ModelWorker.id_hash == id_hash))
        if worker is None:
            worker = ModelWorker(id_hash=id_hash)
            session.add(worker)
        worker.name, worker.level, worker.city, worker.year = (
            row.name,
            row.level,
            row.city,
            row.year,
        )
    await session.flush()
    return errors


async def load_unit_staff(session: AsyncSession, rows: list[tuple[int, UnitStaffRow]]) -> list[str]:
    errors = []
    for line, row in rows:
        member = await members.find_member(session, row.member)
        unit_id = await session.scalar(select(PartnerUnit.id).where(PartnerUnit.name == row.unit))
        if member is None:
            errors.append(f"line {line}: unknown member {row.member!r}")
        elif unit_id is None:
            errors.append(f"line {line}: unknown unit {row.unit!r}")
        else:
            await members.grant_role(session, member.id, Role.UNIT_STAFF, str(unit_id))
    return errors
