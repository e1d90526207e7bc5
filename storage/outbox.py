"""The durable outbox: broadcasts and one delivery row per recipient.

Rows are written before anything is sent. The sender claims a row (``sending``) in its own
commit just before the send and records the outcome in another, so after a crash only a
row left ``sending`` is in doubt; :func:`settle_interrupted` marks those failed rather than
send them again (at most once: see the README's "Notices, broadcasts and reminders").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Broadcast, Delivery, DeliveryStatus, Identity, QueuedMessage

OPEN = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


@dataclass(frozen=True)
class Recipient:
    member_id: int
    body: dict[str, Any]
    not_before: datetime


async def create_broadcast(
    session: AsyncSession, key: str, notice_id: int | None, urgent: bool, now: datetime
) -> Broadcast | None:
    """A new broadcast, or None when one with this key was already written."""
    if await session.scalar(select(Broadcast.id).where(Broadcast.key == key)) is not None:
        return None
    broadcast = Broadcast(key=key, notice_id=notice_id, urgent=urgent, created_at=now)
    session.add(broadcast)
    await session.flush()
    return broadcast


async def add_recipients(
    session: AsyncSession, broadcast: Broadcast, recipients: Sequence[Recipient]
) -> None:
    rows = [
        {
            "broadcast_id": broadcast.id,
            "member_id": r.member_id,
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "not_before": r.not_before,
            "body": r.body,
        }
        for r in recipients
    ]
    for start in range(0, len(rows), 1000):
        await session.execute(insert(Delivery), rows[start : start + 1000])
    if not rows:
        broadcast.finished_at = broadcast.created_at


async def due(session: AsyncSession, now: datetime, limit: int) -> list[Delivery]:
    """Pending rows whose time has come, oldest first."""
    rows = await session.scalars(
        select(Delivery)
        .where(Delivery.status == DeliveryStatus.PENDING, Delivery.not_before <= now)
        .order_by(Delivery.not_before, Delivery.id)
        .limit(limit)
    )
    return list(rows)


async def preferred_identities(
    session: AsyncSession, member_ids: Sequence[int]
) -> dict[int, Identity]:
    """Each member's active identity used last (as :func:`storage.members.preferred_identity`),
    for a batch of rows in one query."""
    rows = await session.scalars(
        select(Identity)
        .where(Identity.member_id.in_(set(member_ids)), Identity.active.is_(True))
        .order_by(Identity.member_id, Identity.last_seen_at.desc(), Identity.id.desc())
    )
    found: dict[int, Identity] = {}
    for identity in rows:
        found.setdefault(identity.member_id, identity)
    return found


async def claim(session: AsyncSession, delivery_id: int) -> bool:
    """Mark a row ``sending``; False if another sender took it first."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.SENDING, attempts=Delivery.attempts + 1)
    )
    return bool(getattr(result, "rowcount", 0))


async def record(
    session: AsyncSession,
    delivery_id: int,
    status: DeliveryStatus,
    now: datetime,
    reason: str | None = None,
    not_before: datetime | None = None,
) -> None:
    """The outcome of a send: sent, failed, blocked, or pending again for a retry."""
    values: dict[str, Any] = {"status": status, "reason": reason}
    if status in (DeliveryStatus.SENT, DeliveryStatus.QUEUED):
        values["sent_at"] = now
    if not_before is not None:
        values["not_before"] = not_before
    await session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


async def hand_to_queue(
    session: AsyncSession, delivery_id: int, identity_id: int, body: dict[str, Any], now: datetime
) -> bool:
    """Queue for a channel this process does not run, in the same transaction as the
    row's status, so it is queued exactly once."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.QUEUED, sent_at=now, attempts=Delivery.attempts + 1)
    )
    if not getattr(result, "rowcount", 0):
        return False
    session.add(QueuedMessage(identity_id=identity_id, body=body, created_at=now))
    return True


async def settle_interrupted(session: AsyncSession, now: datetime) -> int:
    """Rows a dead sender left ``sending`` may or may not have gone out: mark them failed."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.SENDING)
        .values(status=DeliveryStatus.FAILED, reason="interrupted", sent_at=now)
    )
    return int(getattr(result, "rowcount", 0))


async def close_finished(session: AsyncSession, now: datetime) -> None:
    """Stamp broadcasts whose every row is settled."""
    still_open = exists().where(Delivery.broadcast_id == Broadcast.id, Delivery.status.in_(OPEN))
    await session.execute(
        update(Broadcast)
        .where(Broadcast.finished_at.is_(None), ~still_open)
        .values(finished_at=now)
        .execution_options(synchronize_session=False)
    )


async def counts(session: AsyncSession, broadcast_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """How many rows of each broadcast are in each status."""
    rows = await session.execute(
        select(Delivery.broadcast_id, Delivery.status, func.count())
        .where(Delivery.broadcast_id.in_(broadcast_ids))
        .group_by(Delivery.broadcast_id, Delivery.status)
    )
    found: dict[int, dict[str, int]] = {id_: {} for id_ in broadcast_ids}
    for broadcast_id, status, count in rows:
        found[broadcast_id][status] = count
    return found


async def recent_broadcasts(session: AsyncSession, limit: int) -> list[Broadcast]:
    rows = await session.scalars(
        select(Broadcast).order_by(Broadcast.created_at.desc(), Broadcast.id.desc()).limit(limit)
    )
    return list(rows)
