"""The WeChat quota ledger (:mod:`storage.models.wechat_quota`): allowances taken before a
send, so WeChat never has to refuse one for quota.

Each ``take_*`` function reserves in one conditional ``UPDATE`` (atomic on SQLite and on
PostgreSQL, whose row lock makes a concurrent taker re-check the condition), in the
caller's transaction: two senders never both get the 5th slot. The caller commits the
reservation before the call to WeChat; when WeChat surely did not send (it refused, or
was busy) the caller gives the slot back, and when it is unknown (no answer) the slot stays
used: counting a message that did not go out is safe, sending one over quota is not.

The 48-hour window is derived from the identity's ``last_seen_at``, which the core keeps
(at most 5 minutes stale) on every message, so a member's message costs no write here: a
``last_seen_at`` newer than the counted ``window_start`` restarts the window with none
used. Menu clicks, follows and scans also refresh ``last_seen_at`` but open only the
1-minute allowance: :func:`open_event` records the event and first moves the counted window
to the member's message before it, and a ``last_seen_at`` within :data:`EVENT_SLACK` after
an event is not taken for a message (conservative: a message just after an event may open
its window only with the member's next one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, and_, case, false, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.wechat_quota import WechatQuota, WechatTemplateDay
from storage.types import UTCDateTime

QUOTAS = cast(Table, WechatQuota.__table__)
"""Statements on the table, not the ORM entity: a send takes three, and the ORM's
bookkeeping would cost more than each statement."""
Q = QUOTAS.c

CHINA = ZoneInfo("Asia/Shanghai")
"""WeChat's months and days (mass sends, the template quota) are Beijing time."""
WINDOW = timedelta(hours=48) - timedelta(minutes=10)
"""Customer-service messages are allowed for 48 hours after the member's message; the
margin covers WeChat's clock and the webhook's delay."""
WINDOW_SENDS = 5
EVENT_WINDOW = timedelta(seconds=45)
"""3 customer-service messages within 1 minute of a menu click, follow or scan, with a
margin for WeChat's clock and the webhook's delay."""
EVENT_SENDS = 3
EVENT_SLACK = timedelta(minutes=1)
"""A ``last_seen_at`` this soon after an event is the event's own (the core refreshes it
while handling the event), not a message."""
MASS_PER_MONTH = 4
BATCH = 1000

Allowance = Literal["event", "window"]


@dataclass(frozen=True)
class Slot:
    """One reserved customer-service message: from which allowance, opened when, and how
    many of it are left after this one."""

    allowance: Allowance
    opened: datetime
    left: int

    @property
    def reason(self) -> str:
        if self.allowance == "event":
            return f"{self.left} of {EVENT_SENDS} left in 1 min after an event"
        return f"{self.left} of {WINDOW_SENDS} left in 48 h window"


def month_of(now: datetime) -> int:
    """The Asia/Shanghai month of ``now`` as YYYYMM."""
    local = now.astimezone(CHINA)
    return local.year * 100 + local.month


def day_of(now: datetime) -> date:
    """The Asia/Shanghai day of ``now``."""
    return now.astimezone(CHINA).date()


def _insert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _blank(identity_id: int) -> dict[str, Any]:
    return {
        "identity_id": identity_id,
        "window_start": None,
        "window_used": 0,
        "event_at": None,
        "event_used": 0,
        "mass_month": 0,
        "mass_used": 0,
        "template_day": None,
        "template_used": 0,
    }


async def ensure(session: AsyncSession, identity_ids: Sequence[int]) -> None:
    """A ledger row for each identity that has none."""
    ids = sorted(set(identity_ids))
    for start in range(0, len(ids), BATCH):
        rows = [_blank(i) for i in ids[start : start + BATCH]]
        # executemany: one statement compiled once, not a 9,000-parameter one per batch
        await session.execute(_insert(session)(QUOTAS).on_conflict_do_nothing(), rows)


def _newer_message(last_seen: datetime, now: datetime) -> ColumnElement[bool]:
    """SQL: ``last_seen`` is a member's message after the counted window's, within 48 h."""
    if now - last_seen >= WINDOW:
        return false()
    return and_(
        or_(Q.window_start.is_(None), Q.window_start < last_seen),
        or_(Q.event_at.is_(None), Q.event_at < last_seen - EVENT_SLACK),
    )


async def open_event(
    session: AsyncSession, identity_id: int, last_seen: datetime | None, now: datetime
) -> None:
    """A menu click, follow or scan at ``now``: 3 messages in the next minute. ``last_seen``
    is the identity's before the event (None for a new follower), so the window of the
    member's message before it is kept."""
    await ensure(session, [identity_id])
    newer = false() if last_seen is None else _newer_message(last_seen, now)
    await session.execute(
        update(QUOTAS)
        .where(Q.identity_id == identity_id)
        .values(
            window_start=case((newer, literal(last_seen, UTCDateTime())), else_=Q.window_start),
            window_used=case((newer, 0), else_=Q.window_used),
            event_at=now,
            event_used=0,
        )
    )


async def take_customer_service(
    session: AsyncSession, identity_id: int, last_seen: datetime, now: datetime, count: int = 1
) -> Slot | None:
    """Reserve ``count`` customer-service messages (a long text in parts, its images), all
    from the minute after an event (it expires soonest) or all from the 48-hour window;
    None when neither has that many left."""
    await ensure(session, [identity_id])
    event = await session.execute(
        update(QUOTAS)
        .where(
            Q.identity_id == identity_id,
            Q.event_at > now - EVENT_WINDOW,
            Q.event_used + count <= EVENT_SENDS,
        )
        .values(event_used=Q.event_used + count)
        .returning(Q.event_at, Q.event_used)
    )
    found = event.one_or_none()
    if found is not None and found[0] is not None:
        return Slot("event", found[0], EVENT_SENDS - found[1])
    newer = _newer_message(last_seen, now) if count <= WINDOW_SENDS else false()
    window = await session.execute(
        update(QUOTAS)
        .where(
            Q.identity_id == identity_id,
            or_(
                newer,
                and_(
                    Q.window_start > now - WINDOW,
                    Q.window_used + count <= WINDOW_SENDS,
                ),
            ),
        )
        .values(
            window_start=case((newer, literal(last_seen, UTCDateTime())), else_=Q.window_start),
            window_used=case((newer, count), else_=Q.window_used + count),
        )
        .returning(Q.window_start, Q.window_used)
    )
    found = window.one_or_none()
    if found is None or found[0] is None:
        return None
    return Slot("window", found[0], WINDOW_SENDS - found[1])


async def why_not(session: AsyncSession, identity_id: int, now: datetime) -> str:
    """Why :func:`take_customer_service` found nothing, in a few words for the record."""
    row = await session.get(WechatQuota, identity_id, populate_existing=True)
    if row is None or row.window_start is None or now - row.window_start >= WINDOW:
        return "window closed"
    return f"{row.window_used} of {WINDOW_SENDS} used in 48 h window"


def _slot_columns(slot: Slot) -> tuple[Any, Any]:
    if slot.allowance == "event":
        return Q.event_at, Q.event_used
    return Q.window_start, Q.window_used


async def give_back(session: AsyncSession, identity_id: int, slot: Slot, count: int = 1) -> None:
    """WeChat surely did not send ``count`` messages of ``slot``: they are free again (unless
    its allowance has been replaced by a newer one meanwhile)."""
    if count <= 0:
        return
    opened, used = _slot_columns(slot)
    await session.execute(
        update(QUOTAS)
        .where(Q.identity_id == identity_id, opened == slot.opened, used >= count)
        .values({used: used - count})
    )


async def spend_all(session: AsyncSession, identity_id: int, slot: Slot) -> None:
    """WeChat refused for quota (45015, 45047) although the ledger had some left: trust
    WeChat, and count the allowance of ``slot`` as spent."""
    opened, used = _slot_columns(slot)
    full = EVENT_SENDS if slot.allowance == "event" else WINDOW_SENDS
    await session.execute(
        update(QUOTAS)
        .where(Q.identity_id == identity_id, opened == slot.opened)
        .values({used: full})
    )


async def take_template(
    session: AsyncSession, identity_id: int, now: datetime, daily_quota: int
) -> int | None:
    """Reserve one template message of the account's daily quota, counting it for the
    member too; returns how many the account has left today, None when none."""
    today = day_of(now)
    await session.execute(
        _insert(session)(WechatTemplateDay).values(day=today, used=0).on_conflict_do_nothing()
    )
    taken: int | None = await session.scalar(
        update(WechatTemplateDay)
        .where(WechatTemplateDay.day == today, WechatTemplateDay.used < daily_quota)
        .values(used=WechatTemplateDay.used + 1)
        .returning(WechatTemplateDay.used)
    )
    if taken is None:
        return None
    await ensure(session, [identity_id])
    same_day = Q.template_day == today
    await session.execute(
        update(QUOTAS)
        .where(Q.identity_id == identity_id)
        .values(
            template_day=today,
            template_used=case((same_day, Q.template_used + 1), else_=1),
        )
    )
    return daily_quota - taken


async def give_back_template(session: AsyncSession, identity_id: int, now: datetime) -> None:
    """WeChat surely did not send the template message reserved today."""
    today = day_of(now)
    await session.execute(
        update(WechatTemplateDay)
        .where(WechatTemplateDay.day == today, WechatTemplateDay.used > 0)
        .values(used=WechatTemplateDay.used - 1)
    )
    await session.execute(
        update(QUOTAS)
        .where(
            Q.identity_id == identity_id,
            Q.template_day == today,
            Q.template_used > 0,
        )
        .values(template_used=Q.template_used - 1)
    )


async def spend_templates(session: AsyncSession, now: datetime, daily_quota: int) -> None:
    """WeChat says the daily quota is reached (45009): none are left today."""
    await session.execute(
        update(WechatTemplateDay)
        .where(WechatTemplateDay.day == day_of(now))
        .values(used=daily_quota)
    )


def _mass_left(month: int) -> ColumnElement[bool]:
    return or_(Q.mass_month != month, Q.mass_used < MASS_PER_MONTH)


async def with_mass_left(
    session: AsyncSession, identity_ids: Sequence[int], now: datetime
) -> list[int]:
    """The identities among ``identity_ids`` that may get another mass send this month
    (those with no ledger row have all 4), in ascending order."""
    ids = sorted(set(identity_ids))
    month = month_of(now)
    spent: set[int] = set()
    for start in range(0, len(ids), BATCH):
        rows = await session.scalars(
            select(Q.identity_id).where(
                Q.identity_id.in_(ids[start : start + BATCH]), ~_mass_left(month)
            )
        )
        spent.update(rows)
    return [i for i in ids if i not in spent]


async def take_mass(session: AsyncSession, identity_ids: Sequence[int], now: datetime) -> list[int]:
    """Use one mass send of this month for each identity that has one left; returns those
    (ascending), in the caller's transaction: send to these only."""
    ids = sorted(set(identity_ids))
    month = month_of(now)
    await ensure(session, ids)
    taken: list[int] = []
    for start in range(0, len(ids), BATCH):
        rows = await session.scalars(
            update(QUOTAS)
            .where(Q.identity_id.in_(ids[start : start + BATCH]), _mass_left(month))
            .values(
                mass_used=case((Q.mass_month == month, Q.mass_used + 1), else_=1),
                mass_month=month,
            )
            .returning(Q.identity_id)
        )
        taken.extend(rows)
    return sorted(taken)


async def give_back_mass(session: AsyncSession, identity_ids: Sequence[int], now: datetime) -> None:
    """The mass send surely did not reach these identities (WeChat refused the call)."""
    ids = sorted(set(identity_ids))
    month = month_of(now)
    for start in range(0, len(ids), BATCH):
        await session.execute(
            update(QUOTAS)
            .where(
                Q.identity_id.in_(ids[start : start + BATCH]),
                Q.mass_month == month,
                Q.mass_used > 0,
            )
            .values(mass_used=Q.mass_used - 1)
        )
