"""The WeChat quota ledger: each allowance's edge, its reset, and no slot taken twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.app import App
from storage import wechat_quota as quota
from storage.models import Identity, Member
from storage.models.wechat_quota import WechatQuota

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


async def identities(app: App, count: int) -> list[int]:
    """``count`` WeChat members' identity ids."""
    async with app.sessions() as session, session.begin():
        found = []
        for n in range(count):
            member = Member(display_name=f"m{n}", language="zh_CN")
            identity = Identity(member=member, channel="wechat", external_id=f"o{n}")
            session.add_all([member, identity])
            found.append(identity)
        await session.flush()
        return [identity.id for identity in found]


async def take(app: App, identity_id: int, last_seen: datetime, now: datetime) -> quota.Slot | None:
    async with app.sessions() as session, session.begin():
        return await quota.take_customer_service(session, identity_id, last_seen, now)


async def test_five_messages_in_the_window_then_none_until_the_member_writes(app: App) -> None:
    [me] = await identities(app, 1)
    seen = NOW - timedelta(hours=1)
    slots = [await take(app, me, seen, NOW) for _ in range(6)]
    assert [s.reason if s else None for s in slots] == [
        "4 of 5 left in 48 h window",
        "3 of 5 left in 48 h window",
        "2 of 5 left in 48 h window",
        "1 of 5 left in 48 h window",
        "0 of 5 left in 48 h window",
        None,
    ]
    later = NOW + timedelta(hours=2)
    assert (await take(app, me, later - timedelta(minutes=1), later)) == quota.Slot(
        "window", later - timedelta(minutes=1), 4
    )


async def test_the_window_closes_after_48_hours(app: App) -> None:
    me, other = await identities(app, 2)
    seen = NOW - timedelta(hours=47)
    assert await take(app, me, seen, NOW) is not None
    assert await take(app, me, seen, NOW + timedelta(hours=1)) is None
    assert await take(app, other, NOW - timedelta(hours=49), NOW) is None


async def test_an_event_allows_three_in_a_minute_and_keeps_the_window_before_it(app: App) -> None:
    [me] = await identities(app, 1)
    message = NOW - timedelta(hours=3)
    async with app.sessions() as session, session.begin():
        await quota.open_event(session, me, message, NOW)
    # the core then refreshes last_seen_at with the event's own time: not a message
    seen = NOW + timedelta(seconds=1)
    slots = [await take(app, me, seen, NOW + timedelta(seconds=10)) for _ in range(4)]
    assert [(s.allowance, s.left) for s in slots if s] == [
        ("event", 2),
        ("event", 1),
        ("event", 0),
        ("window", 4),
    ]
    assert slots[3] is not None and slots[3].opened == message
    assert (await take(app, me, seen, NOW + timedelta(minutes=1))) == quota.Slot(
        "window", message, 3
    )


async def test_an_event_alone_opens_no_48_hour_window(app: App) -> None:
    [me] = await identities(app, 1)
    async with app.sessions() as session, session.begin():
        await quota.open_event(session, me, None, NOW)
    assert [await take(app, me, NOW, NOW) for _ in range(4)][3] is None
    assert await take(app, me, NOW, NOW + timedelta(minutes=2)) is None
    written = NOW + timedelta(minutes=10)
    assert await take(app, me, written, written) == quota.Slot("window", written, 4)


async def test_a_slot_given_back_is_free_and_a_refusal_spends_the_window(app: App) -> None:
    me, other = await identities(app, 2)
    seen = NOW - timedelta(hours=1)
    for _ in range(4):
        await take(app, me, seen, NOW)
    slot = await take(app, me, seen, NOW)
    assert slot is not None and slot.left == 0
    async with app.sessions() as session, session.begin():
        await quota.give_back(session, me, slot)
    slot = await take(app, me, seen, NOW)
    assert slot is not None and slot.left == 0
    first = await take(app, other, seen, NOW)
    assert first is not None
    async with app.sessions() as session, session.begin():
        await quota.spend_all(session, other, first)
    assert await take(app, other, seen, NOW) is None


async def test_two_senders_never_both_take_the_last_slot(app: App) -> None:
    [me] = await identities(app, 1)
    seen = NOW - timedelta(hours=1)
    for _ in range(4):
        await take(app, me, seen, NOW)

    async def slowly() -> quota.Slot | None:
        async with app.sessions() as session, session.begin():
            slot = await quota.take_customer_service(session, me, seen, NOW)
            await asyncio.sleep(0.05)
            return slot

    results = await asyncio.gather(slowly(), slowly(), slowly())
    assert sorted(s is not None for s in results) == [False, False, True]


async def test_the_template_quota_is_the_accounts_per_china_day(app: App) -> None:
    first, second = await identities(app, 2)

    async def template(identity_id: int, now: datetime) -> int | None:
        async with app.sessions() as session, session.begin():
            return await quota.take_template(session, identity_id, now, daily_quota=2)

    assert await template(first, NOW) == 1
    assert await template(second, NOW) == 0
    assert await template(first, NOW) is None
    late = datetime(2026, 12, 1, 15, 59, tzinfo=UTC)  # 23:59 in Beijing
    assert await template(first, late) is None
    assert await template(first, late + timedelta(minutes=1)) == 1
    async with app.sessions() as session, session.begin():
        await quota.give_back_template(session, first, late + timedelta(minutes=1))
        row = await session.get(WechatQuota, first)
        assert row is not None and row.template_used == 0
        assert await quota.take_template(session, first, late + timedelta(minutes=2), 2) == 1
        await quota.spend_templates(session, late + timedelta(minutes=2), 2)
        assert await quota.take_template(session, second, late + timedelta(minutes=3), 2) is None


async def test_four_mass_sends_a_china_month(app: App) -> None:
    ids = await identities(app, 3)
    fresh, busy, spent = ids
    for n in range(4):
        async with app.sessions() as session, session.begin():
            assert await quota.take_mass(session, [spent] if n < 3 else [spent, busy], NOW) == (
                [spent] if n < 3 else [busy, spent]
            )
    async with app.sessions() as session, session.begin():
        assert await quota.with_mass_left(session, ids, NOW) == [fresh, busy]
        assert await quota.take_mass(session, ids, NOW) == [fresh, busy]
        assert await quota.with_mass_left(session, ids, NOW) == [fresh, busy]
        await quota.give_back_mass(session, [spent], NOW)
        assert await quota.with_mass_left(session, [spent], NOW) == [spent]
    next_month = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 1 January in Beijing
    async with app.sessions() as session, session.begin():
        assert await quota.with_mass_left(session, ids, next_month - timedelta(seconds=1)) == [
            fresh,
            busy,
            spent,
        ]
        rows = await session.scalars(select(WechatQuota).order_by(WechatQuota.identity_id))
        assert [(r.mass_month, r.mass_used) for r in rows] == [
            (202612, 1),
            (202612, 2),
            (202612, 3),
        ]


async def test_the_ledger_goes_with_the_identity(app: App) -> None:
    [me] = await identities(app, 1)
    await take(app, me, NOW, NOW)
    async with app.sessions() as session, session.begin():
        identity = await session.get(Identity, me)
        await session.delete(identity)
    async with app.sessions() as session:
        assert await session.get(WechatQuota, me) is None
