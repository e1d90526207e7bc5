"""The durable outbox: one ``deliveries`` row per message to a member, and broadcasts.

Rows are written before anything is sent, in the transaction that decided to send them
(:mod:`bot.delivery`). The sender claims a row (``sending``) in its own commit just before
the send and records the outcome in another, so after a crash only a row left ``sending``
is in doubt; :func:`settle_interrupted` marks those failed rather than send them again (at
most once: see the README's "One way out").

Which channel a row goes out on is decided when it is sent, by the member's preferred
identity then (the active one used last), so a member who moved from WeChat to Telegram
gets it where they are now.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    Table,
    bindparam,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from storage import broadcasts, members
from storage.models import (
    Broadcast,
    BroadcastTally,
    Delivery,
    DeliveryStatus,
    Identity,
    Member,
    MemberSettings,
)
from storage.models.notices import WAITING
from storage.types import UTCDateTime

log = logging.getLogger(__name__)

OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
NOTIFY_CHANNEL = "unionbot_outbox"
"""PostgreSQL ``LISTEN``/``NOTIFY`` channel: a transaction that adds rows notifies the
leader's sender at commit."""
NO_CHANNEL = ""
"""What :func:`due` calls the channel of a member with no active identity."""


@dataclass(frozen=True)
class Row:
    member_id: int
    body: dict[str, Any]
    not_before: datetime
    priority: int
    coalesce_key: str | None = None


async def recipients(
    session: AsyncSession, member_ids: Sequence[int]
) -> dict[int, tuple[str, MemberSettings | None]]:
    """Each member's language and settings (None: the defaults), in one query per 1,000."""
    ids = list(set(member_ids))
    found: dict[int, tuple[str, MemberSettings | None]] = {}
    for start in range(0, len(ids), 1000):
        rows = await session.execute(
            select(Member.id, Member.language, MemberSettings)
            .outerjoin(MemberSettings, MemberSettings.member_id == Member.id)
            .where(Member.id.in_(ids[start : start + 1000]))
        )
        found.update({member_id: (language, chosen) for member_id, language, chosen in rows})
    return found


async def add(session: AsyncSession, rows: Sequence[Row], broadcast_id: int | None = None) -> None:
    """Add rows to the session's transaction; on PostgreSQL also notify the sender."""
    values = [
        {
            "broadcast_id": broadcast_id,
            "member_id": r.member_id,
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "priority": r.priority,
            "not_before": r.not_before,
            "body": r.body,
            "coalesce_key": r.coalesce_key,
        }
        for r in rows
    ]
    for start in range(0, len(values), 1000):
        await session.execute(insert(Delivery), values[start : start + 1000])
    if values:
        await notify(session)


async def notify(session: AsyncSession) -> None:
    """On PostgreSQL, wake the leader (in any process) when this transaction commits."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))


@contextlib.asynccontextmanager
async def listening(engine: AsyncEngine, wake: Callable[[], None]) -> AsyncIterator[None]:
    """While inside, call ``wake`` whenever a transaction that added rows commits, in any
    process (PostgreSQL ``LISTEN``; on SQLite nothing: the sender looks every few seconds).
    If the listening connection cannot be had, the sender still looks every few seconds."""
    if engine.dialect.name != "postgresql":
        yield
        return

    def listener(*_: object) -> None:
        wake()

    connection = None
    try:
        connection = await engine.connect()
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.add_listener(NOTIFY_CHANNEL, listener)
    except Exception as error:
        if connection is not None:
            await connection.close()
        log.warning("not listening for new outbox rows: %s", error)
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            await driver.remove_listener(NOTIFY_CHANNEL, listener)
        with contextlib.suppress(Exception):
            await connection.close()


def _preferred_channel() -> ColumnElement[str]:
    """The channel of the row's member's preferred identity, or :data:`NO_CHANNEL`."""
    preferred = members.preferred_identity_column(Delivery.member_id, Delivery, "channel")
    return func.coalesce(preferred, NO_CHANNEL)


def still_written(broadcast_id: Any) -> ColumnElement[bool]:
    """SQL: the row belongs to a broadcast, not urgent, whose rows are still being written."""
    return exists().where(
        Broadcast.id == broadcast_id,
        Broadcast.expanded_at.is_(None),
        Broadcast.urgent.is_(False),
    )


async def due(
    session: AsyncSession, now: datetime, limit: int, channels: Collection[str]
) -> list[Delivery]:
    """Pending rows whose time has come, for members whose preferred identity is on one of
    ``channels`` (include :data:`NO_CHANNEL` for those who have none), by priority, then
    oldest first. A broadcast that is not urgent waits until all its rows are written, so
    that WeChat's mass sends carry whole batches of up to 10,000 (:mod:`storage.wechat_mass`)
    and no row of it goes per member only because the bulk step had not seen it yet."""
    rows = await session.scalars(
        select(Delivery)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.not_before <= now,
            _preferred_channel().in_(list(channels)),
            ~still_written(Delivery.broadcast_id),
        )
        .order_by(Delivery.priority, Delivery.not_before, Delivery.id)
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


async def claim(session: AsyncSession, delivery_id: int) -> dict[str, Any] | None:
    """Mark a row ``sending`` and return its body as claimed; None when another sender
    took it first."""
    return (await claim_many(session, [delivery_id])).get(delivery_id)


DELIVERIES = cast(Table, Delivery.__table__)
"""The sender's statements on every row are on the table, not the ORM entity: the ORM's
bookkeeping would cost more than the statement (about 1 ms of CPU a transaction)."""


async def claim_many(
    session: AsyncSession, delivery_ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """Mark rows ``sending`` in one statement: the body of each row claimed, by id (rows
    another sender took first are missing)."""
    c = DELIVERIES.c
    result = await session.execute(
        update(DELIVERIES)
        .where(c.id.in_(list(delivery_ids)), c.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.SENDING, attempts=c.attempts + 1)
        .returning(c.id, c.body)
    )
    return {delivery_id: body for delivery_id, body in result}


async def replace_body(session: AsyncSession, delivery_id: int, body: dict[str, Any]) -> None:
    """Keep what a live row was rendered to, so that a retry sends the same."""
    await session.execute(update(Delivery).where(Delivery.id == delivery_id).values(body=body))


LIVE_LOCKS = 0x6C697665
"""'live': the first key of the PostgreSQL advisory locks of :func:`lock_live` (two-key
locks never collide with the leader's one-key lock)."""


async def lock_live(session: AsyncSession, key: str) -> None:
    """Hold ``key``'s lock until the transaction ends. :func:`add_live` takes it before it
    looks for waiting rows, the sender before it claims and renders one, so a row is never
    claimed between that look and the commit that adds to it, which would lose what was
    added. SQLite needs none: one transaction writes at a time."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(key.encode(), digest_size=4).digest()
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:space, :key)"),
        {"space": LIVE_LOCKS, "key": int.from_bytes(digest, "big", signed=True)},
    )


async def add_live(
    session: AsyncSession,
    audience: Select[tuple[int]],
    key: str,
    body: dict[str, Any],
    priority: int,
    now: datetime,
) -> None:
    """One pending row of ``key`` for each member of ``audience`` who has none waiting (the
    unique index ``uq_deliveries_waiting`` says who has), in one statement whatever the
    audience's size, under :func:`lock_live`."""
    await lock_live(session, key)
    members = audience.subquery()
    rows = select(
        members.c[0],
        literal(DeliveryStatus.PENDING.value),
        literal(0),
        literal(priority),
        literal(now, UTCDateTime()),
        literal(body, JSON()),
        literal(key),
    ).where(true())
    columns = ["member_id", "status", "attempts", "priority", "not_before", "body", "coalesce_key"]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    adding = (
        dialect.insert(Delivery)
        .from_select(columns, rows)
        .on_conflict_do_nothing(index_elements=["member_id", "coalesce_key"], index_where=WAITING)
    )
    await session.execute(adding)
    await notify(session)


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row: sent, failed, blocked, or pending again for a retry
    (``not_before``); with the route it took (:class:`~storage.models.Route`) where the
    channel has routes."""

    delivery_id: int
    status: DeliveryStatus
    reason: str | None = None
    not_before: datetime | None = None
    route: str | None = None
    route_reason: str | None = None


async def record(
    session: AsyncSession,
    delivery_ids: Sequence[int],
    status: DeliveryStatus,
    now: datetime,
    reason: str | None = None,
    not_before: datetime | None = None,
    route: str | None = None,
    route_reason: str | None = None,
) -> None:
    """The same outcome for each of ``delivery_ids`` (:func:`record_outcomes`)."""
    await record_outcomes(
        session,
        [Outcome(i, status, reason, not_before, route, route_reason) for i in delivery_ids],
        now,
    )


async def record_outcomes(
    session: AsyncSession, outcomes: Sequence[Outcome], now: datetime
) -> None:
    """Write outcomes, one statement for all the rows of each shape (executemany). The one
    place outcomes are written, so it also keeps the broadcasts' counters: each row of a
    broadcast whose outcome changes moves from its old settled count (if any) to the new.
    A row given twice takes the last."""
    latest = {o.delivery_id: o for o in outcomes}
    if not latest:
        return
    c = DELIVERIES.c
    before = await session.execute(
        select(c.id, c.broadcast_id, c.status, c.route)
        .where(c.id.in_(list(latest)), c.broadcast_id.is_not(None))
        .with_for_update()
    )
    changes: Counter[tuple[int, str, str]] = Counter()
    for delivery_id, broadcast_id, old, old_route in before:
        assert broadcast_id is not None
        outcome = latest[delivery_id]
        new_route = old_route if outcome.route is None else outcome.route
        if old in broadcasts.SETTLED:
            changes[broadcast_id, old_route or "", old] -= 1
        if outcome.status in broadcasts.SETTLED:
            changes[broadcast_id, new_route or "", outcome.status] += 1
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for outcome in latest.values():
        values = _outcome_values(outcome, now)
        shapes.setdefault(tuple(values), []).append(
            {f"v_{name}": value for name, value in values.items()}
        )
    for columns, rows in shapes.items():
        setting = {name: bindparam(f"v_{name}", type_=c[name].type) for name in columns}
        key = setting.pop("id")
        await session.execute(update(DELIVERIES).where(c.id == key).values(setting), rows)
    await broadcasts.tally(session, changes)


def _outcome_values(outcome: Outcome, now: datetime) -> dict[str, Any]:
    """The columns an outcome sets: its rows of the same columns go in one executemany."""
    values: dict[str, Any] = {
        "id": outcome.delivery_id,
        "status": outcome.status,
        "reason": outcome.reason,
    }
    if outcome.route is not None:
        values["route"], values["route_reason"] = outcome.route, outcome.route_reason
    if outcome.status is DeliveryStatus.SENT:
        values["sent_at"] = now
    if outcome.not_before is not None:
        values["not_before"] = outcome.not_before
    return values


def _settled(
    status: str, rows: Iterable[tuple[int | None, str | None]]
) -> Counter[tuple[int, str, str]]:
    """Counter changes for rows ``(broadcast_id, route)`` newly settled as ``status``."""
    return Counter((b, route or "", status) for b, route in rows if b is not None)


async def take(
    session: AsyncSession, channel: str, now: datetime
) -> list[tuple[int, str, dict[str, Any]]]:
    """Mark sent and return ``(member_id, external_id, body)`` of the due rows for members
    whose preferred identity is on ``channel``, oldest first (the console prints its own)."""
    rows = await due(session, now, 1000, [channel])
    if not rows:
        return []
    identities = await preferred_identities(session, [r.member_id for r in rows])
    taken = await session.execute(
        update(Delivery)
        .where(Delivery.id.in_([r.id for r in rows]), Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.SENT, sent_at=now, attempts=Delivery.attempts + 1)
        .returning(
            Delivery.id, Delivery.member_id, Delivery.body, Delivery.broadcast_id, Delivery.route
        )
    )
    found = sorted(taken.all(), key=lambda r: int(r[0]))
    await broadcasts.tally(session, _settled(DeliveryStatus.SENT, ((r[3], r[4]) for r in found)))
    await close_finished(session, now)
    return [(r[1], identities[r[1]].external_id, r[2]) for r in found]


async def settle_interrupted(session: AsyncSession, now: datetime) -> int:
    """Rows a dead sender left ``sending`` may or may not have gone out: mark them failed.
    Rows a WeChat mass send carries are left to it: calling it again with its
    ``clientmsgid`` settles them without sending twice (:mod:`storage.wechat_mass`)."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.SENDING, Delivery.mass_send_id.is_(None))
        .values(status=DeliveryStatus.FAILED, reason="interrupted", sent_at=now)
        .returning(Delivery.broadcast_id, Delivery.route)
    )
    settled = [(b, route) for b, route in result]
    await broadcasts.tally(session, _settled(DeliveryStatus.FAILED, settled))
    return len(settled)


async def close_finished(session: AsyncSession, now: datetime) -> None:
    """Stamp broadcasts whose rows are all written and all settled: by their counters, or
    when no row is open any more (a ``/link`` merge drops a member's second row of a
    broadcast, which the total still counts; the probe is served by ``ix_deliveries_counts``)."""
    settled = (
        select(func.coalesce(func.sum(BroadcastTally.count), 0))
        .where(BroadcastTally.broadcast_id == Broadcast.id)
        .correlate(Broadcast)
        .scalar_subquery()
    )
    still_open = exists().where(
        Delivery.broadcast_id == Broadcast.id, Delivery.status.in_(OPEN_STATUSES)
    )
    await session.execute(
        update(Broadcast)
        .where(
            Broadcast.finished_at.is_(None),
            Broadcast.expanded_at.is_not(None),
            or_(settled >= Broadcast.total, ~still_open),
        )
        .values(finished_at=now)
        .execution_options(synchronize_session=False)
    )
