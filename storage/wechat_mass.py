"""WeChat mass sends of broadcasts (:class:`~storage.models.wechat.WechatMassSend`).

A broadcast's due rows for WeChat members with a mass send left this month are claimed in
batches of one language and at most 10,000 (:func:`claim`): in one transaction the batch
row is written with its ``clientmsgid``, the members' mass allowance is taken (the quota
ledger, :mod:`storage.wechat_quota`) and the rows become ``sending`` with
``mass_send_id`` set. That transaction commits before the call, so a crash or a timeout
leaves a ``claimed`` batch that is called again with the same ``clientmsgid``
(:func:`in_doubt`), which WeChat never delivers twice; :func:`storage.outbox.settle_interrupted`
leaves such rows alone. WeChat's answer settles the batch: :func:`accepted` records the
rows sent, :func:`refused` gives the allowance back and returns the rows to the
per-member routes. ``MASSSENDJOBFINISH`` brings WeChat's counts (:func:`finish`).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import members, outbox, wechat_quota
from storage.models import Broadcast, Delivery, DeliveryStatus, Identity, Member, Route
from storage.models.wechat import WechatMassSend
from storage.models.wechat_quota import WechatQuota

CHANNEL = "wechat"
MASS_MAX = 10_000
MASS_MIN = 2
CHUNK = 1000


class Status:
    CLAIMED = "claimed"
    ACCEPTED = "accepted"
    FINISHED = "finished"
    REFUSED = "refused"


@dataclass(frozen=True)
class Batch:
    """A claimed mass send: the rows it carries and the followers they go to."""

    id: int
    broadcast_id: int
    clientmsgid: str
    language: str
    delivery_ids: list[int]
    identity_ids: list[int]
    openids: list[str]
    body: dict[str, Any]


def _refused(broadcast_id: Any) -> Any:
    """WeChat refused a mass send of this broadcast: the rest goes per member."""
    return exists().where(
        WechatMassSend.broadcast_id == broadcast_id, WechatMassSend.status == Status.REFUSED
    )


def mass_left(month: int) -> Any:
    """SQL, with :class:`WechatQuota` outer-joined: the identity may get another mass send
    this month (no ledger row: all 4 left)."""
    return or_(
        WechatQuota.identity_id.is_(None),
        WechatQuota.mass_month != month,
        WechatQuota.mass_used < wechat_quota.MASS_PER_MONTH,
    )


def _eligible(now: datetime, priority: int) -> Any:
    """Due rows of non-urgent broadcasts of ``priority``, all of whose rows are written, for
    members reached on WeChat who have a mass send left this month, with the broadcast and
    the member's language."""
    preferred = members.preferred_identity_column(Delivery.member_id, Delivery)
    return (
        select(
            Delivery.id,
            Delivery.broadcast_id,
            Member.language,
            Identity.id.label("identity_id"),
            Identity.external_id,
        )
        .join(Broadcast, Broadcast.id == Delivery.broadcast_id)
        .join(Member, Member.id == Delivery.member_id)
        .join(Identity, Identity.id == preferred)
        .outerjoin(WechatQuota, WechatQuota.identity_id == Identity.id)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.not_before <= now,
            Delivery.priority == priority,
            Broadcast.urgent.is_(False),
            Broadcast.expanded_at.is_not(None),
            Identity.channel == CHANNEL,
            mass_left(wechat_quota.month_of(now)),
            ~_refused(Delivery.broadcast_id),
        )
    )


async def groups(session: AsyncSession, now: datetime, priority: int) -> list[tuple[int, str]]:
    """Each (broadcast, language) with at least two rows a mass send may carry now."""
    eligible = _eligible(now, priority).subquery()
    query = (
        select(eligible.c.broadcast_id, eligible.c.language)
        .group_by(eligible.c.broadcast_id, eligible.c.language)
        .having(func.count() >= MASS_MIN)
        .order_by(eligible.c.broadcast_id, eligible.c.language)
    )
    return [(int(b), str(language)) for b, language in await session.execute(query)]


async def claim(
    session: AsyncSession, now: datetime, priority: int, group: tuple[int, str]
) -> Batch | None:
    """Claim up to 10,000 rows of ``group`` for one mass send, taking each member's mass
    allowance; None when fewer than two could be taken. Commit before calling WeChat."""
    broadcast_id, language = group
    found = (
        await session.execute(
            _eligible(now, priority)
            .where(Delivery.broadcast_id == broadcast_id, Member.language == language)
            .order_by(Delivery.id)
            .limit(MASS_MAX)
        )
    ).all()
    if len(found) < MASS_MIN:
        return None
    taken = set(await wechat_quota.take_mass(session, [r.identity_id for r in found], now))
    rows = [r for r in found if r.identity_id in taken]
    if len(rows) < MASS_MIN:
        await wechat_quota.give_back_mass(session, [r.identity_id for r in rows], now)
        return None
    number = (
        await session.scalar(
            select(func.coalesce(func.max(WechatMassSend.batch), 0)).where(
                WechatMassSend.broadcast_id == broadcast_id
            )
        )
        or 0
    ) + 1
    batch = WechatMassSend(
        broadcast_id=broadcast_id,
        batch=number,
        clientmsgid=f"b{broadcast_id}-{number}-{secrets.token_hex(8)}",
        language=language,
        count=len(rows),
        status=Status.CLAIMED,
        created_at=now,
    )
    session.add(batch)
    await session.flush()
    ids = [int(r.id) for r in rows]
    for start in range(0, len(ids), CHUNK):
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids[start : start + CHUNK]))
            .values(
                status=DeliveryStatus.SENDING,
                attempts=Delivery.attempts + 1,
                mass_send_id=batch.id,
            )
        )
    body = await session.scalar(select(Delivery.body).where(Delivery.id == ids[0]))
    assert body is not None
    return Batch(
        batch.id,
        broadcast_id,
        batch.clientmsgid,
        language,
        ids,
        [int(r.identity_id) for r in rows],
        [str(r.external_id) for r in rows],
        body,
    )


async def in_doubt(session: AsyncSession) -> list[Batch]:
    """Claimed batches whose call WeChat may or may not have taken (a crash, a timeout):
    to call again with the same ``clientmsgid``. A member who no longer has an active
    WeChat identity is left out of the list and their row goes back to the per-member
    routes."""
    found = []
    for batch in await session.scalars(
        select(WechatMassSend)
        .where(WechatMassSend.status == Status.CLAIMED)
        .order_by(WechatMassSend.id)
    ):
        rows = (
            await session.execute(
                select(Delivery.id, Delivery.body, Identity.id, Identity.external_id)
                .outerjoin(
                    Identity,
                    (Identity.member_id == Delivery.member_id)
                    & (Identity.channel == CHANNEL)
                    & Identity.active.is_(True),
                )
                .where(
                    Delivery.mass_send_id == batch.id,
                    Delivery.status == DeliveryStatus.SENDING,
                )
                .order_by(Delivery.id, Identity.id)
            )
        ).all()
        kept: dict[int, Any] = {}
        for row in rows:
            if row[2] is not None:
                kept.setdefault(int(row[0]), row)
        lost = [int(row[0]) for row in rows if int(row[0]) not in kept]
        await _release(session, lost)
        if not kept:
            continue
        chosen = list(kept.values())
        found.append(
            Batch(
                batch.id,
                batch.broadcast_id,
                batch.clientmsgid,
                batch.language,
                [int(r[0]) for r in chosen],
                [int(r[2]) for r in chosen],
                [str(r[3]) for r in chosen],
                chosen[0][1],
            )
        )
    return found


async def _release(session: AsyncSession, delivery_ids: Sequence[int]) -> None:
    """Rows no mass send carries after all: pending again, for the per-member routes."""
    ids = list(delivery_ids)
    for start in range(0, len(ids), CHUNK):
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids[start : start + CHUNK]))
            .values(status=DeliveryStatus.PENDING, mass_send_id=None)
        )


async def accepted(session: AsyncSession, batch: Batch, msg_id: int, now: datetime) -> None:
    """WeChat took the mass send: its rows are sent."""
    await session.execute(
        update(WechatMassSend)
        .where(WechatMassSend.id == batch.id)
        .values(status=Status.ACCEPTED, msg_id=msg_id)
    )
    ids = batch.delivery_ids
    reason = f"mass send {batch.clientmsgid}"
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        await outbox.record(
            session, chunk, DeliveryStatus.SENT, now, route=Route.MASS, route_reason=reason
        )


async def refused(session: AsyncSession, batch: Batch, reason: str, now: datetime) -> None:
    """WeChat would not take the mass send: the allowance is given back, the rows go to
    the per-member routes, and the broadcast is sent no more by mass send."""
    await session.execute(
        update(WechatMassSend)
        .where(WechatMassSend.id == batch.id)
        .values(status=Status.REFUSED, reason=reason[:64])
    )
    await wechat_quota.give_back_mass(session, batch.identity_ids, now)
    await _release(session, batch.delivery_ids)


async def finish(
    session: AsyncSession,
    msg_id: int,
    status: str,
    counts: tuple[int, int, int, int],
    now: datetime,
) -> bool:
    """Record WeChat's counts (total, filtered, sent, errors) for the mass send
    ``msg_id``; False when no mass send of ours has that msg_id."""
    total, filtered, sent, errors = counts
    result = await session.execute(
        update(WechatMassSend)
        .where(WechatMassSend.msg_id == msg_id)
        .values(
            status=Status.FINISHED,
            reason=status[:64],
            total=total,
            filtered=filtered,
            sent=sent,
            errors=errors,
            finished_at=now,
        )
    )
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True)
class Reconciled:
    """A broadcast's mass sends: handed over, and what WeChat's finish events said of
    those that finished (``pending``: sends whose event has not come)."""

    batches: int
    handed: int
    sent: int
    filtered_out: int
    errors: int
    pending: int


async def reconciled(session: AsyncSession, broadcast_ids: Sequence[int]) -> dict[int, Reconciled]:
    """Each broadcast's mass-send figures, for those that had any."""
    taken = WechatMassSend.status.in_([Status.ACCEPTED, Status.FINISHED])
    done = WechatMassSend.status == Status.FINISHED
    rows = await session.execute(
        select(
            WechatMassSend.broadcast_id,
            func.count(),
            func.sum(WechatMassSend.count),
            func.sum(WechatMassSend.sent),
            func.sum(WechatMassSend.total - WechatMassSend.filtered),
            func.sum(WechatMassSend.errors),
            func.count().filter(~done),
        )
        .where(WechatMassSend.broadcast_id.in_(list(broadcast_ids)), taken)
        .group_by(WechatMassSend.broadcast_id)
    )
    return {
        int(b): Reconciled(int(n), int(h or 0), int(s or 0), int(f or 0), int(e or 0), int(p))
        for b, n, h, s, f, e, p in rows
    }
