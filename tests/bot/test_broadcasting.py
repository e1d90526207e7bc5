"""Broadcasts to an audience: recorded at once, expanded by the leader in batches streamed
from the database, one row per member in the member's language, resumable after a crash,
held for each member's quiet hours; their counters agree with the outbox."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot import audience, broadcasting
from bot.app import App
from bot.broadcasting import Recipients, expand_batch, expand_pending, start
from bot.i18n import Translator
from bot.messages import Outgoing
from bot.quiet import member_window, release_time
from bot.settings import Settings
from storage import broadcasts, members, outbox
from storage.models import Broadcast, Delivery, DeliveryStatus, Member, MemberSettings
from unionbot.app import build_app

SHANGHAI_NIGHT = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
"""23:00 in Shanghai."""
TOWN = "坎墩街道"


def hello(t: Translator) -> Outgoing:
    return Outgoing(t("menu.title"))


async def union(app: App, size: int) -> dict[str, int]:
    """``size`` members, every third in :data:`TOWN`, every fourth speaking English."""
    ids = {}
    async with app.sessions() as session, session.begin():
        for n in range(size):
            language = "en" if n % 4 == 0 else "zh_CN"
            _, member = await members.create_member(session, "console", f"m{n}", f"m{n}", language)
            member.town = TOWN if n % 3 == 0 else "逍林镇"
            ids[f"m{n}"] = member.id
    return ids


async def record(app: App, key: str, to: Recipients, now: datetime, urgent: bool = False) -> int:
    """As a confirming request does: record, commit, wake this process's leader."""
    async with app.sessions() as session:
        async with session.begin():
            broadcast = await start(session, app.outbox, key, to, hello, now, urgent=urgent)
            assert broadcast is not None
        if app.outbox.written(session):
            app.outbox.wake()
    return broadcast.id


async def rows(app: App, broadcast_id: int) -> list[Delivery]:
    async with app.sessions() as session:
        found = await session.scalars(
            select(Delivery).where(Delivery.broadcast_id == broadcast_id).order_by(Delivery.id)
        )
        return list(found)


async def the_broadcast(app: App, broadcast_id: int) -> Broadcast:
    async with app.sessions() as session:
        found = await session.get(Broadcast, broadcast_id)
        assert found is not None
        return found


async def test_recorded_at_once_then_one_row_per_member_in_their_language(app: App) -> None:
    await union(app, 40)
    broadcast_id = await record(app, "test:town", Recipients("town", TOWN), SHANGHAI_NIGHT)
    assert await rows(app, broadcast_id) == [], "nothing written while the officer waits"
    assert await expand_pending(app, size=4) == 4, "14 members, 4 a batch"
    written = await rows(app, broadcast_id)
    async with app.sessions() as session:
        expected = await audience.resolve(session, "town", TOWN)
        languages = dict((await session.execute(select(Member.id, Member.language))).all())
    assert sorted(r.member_id for r in written) == expected and len(expected) == 14
    titles = {language: hello(app.outbox.translator(language)).text for language in ("zh_CN", "en")}
    assert titles["zh_CN"] != titles["en"]
    for row in written:
        assert row.body["text"] == titles[languages[row.member_id]]
        assert row.status == DeliveryStatus.PENDING and row.priority == 2
    done = await the_broadcast(app, broadcast_id)
    assert (done.total, done.expanded_at is not None) == (14, True)


async def test_stopped_after_one_batch_it_resumes_with_no_duplicates_and_no_gaps(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    await union(app, 30)
    broadcast_id = await record(app, "test:all", Recipients("all"), SHANGHAI_NIGHT)
    assert await expand_batch(app, size=7)
    assert len(await rows(app, broadcast_id)) == 7
    assert (await the_broadcast(app, broadcast_id)).expanded_to == 7

    real = broadcasts.write_batch

    async def dies_before_commit(*args: object, **kwargs: object) -> int:
        await real(*args, **kwargs)  # type: ignore[arg-type]
        raise ConnectionError("the leader died mid-batch")

    monkeypatch.setattr(broadcasts, "write_batch", dies_before_commit)
    with pytest.raises(ConnectionError):
        await expand_batch(app, size=7)
    assert len(await rows(app, broadcast_id)) == 7, "the batch under way is rolled back"
    monkeypatch.setattr(broadcasts, "write_batch", real)

    assert await expand_pending(app, size=7) == 4
    written = [r.member_id for r in await rows(app, broadcast_id)]
    async with app.sessions() as session:
        everyone = await audience.resolve(session, "all", "")
    assert sorted(written) == everyone and len(set(written)) == 30
    assert (await the_broadcast(app, broadcast_id)).total == 30

    async with app.sessions() as session, session.begin():
        await session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id)
            .values(expanded_to=0, expanded_at=None)
        )
    await expand_pending(app, size=7)
    assert len(await rows(app, broadcast_id)) == 30, "a range written twice adds nothing"
    assert (await the_broadcast(app, broadcast_id)).total == 30


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The default quiet hours, 22:00-07:30 in Shanghai."""
    return Settings(  # type: ignore[call-arg]
        database_url=database_url, key_dir=tmp_path / "keys", _env_file=None
    )


@pytest.mark.parametrize("most_choices", [500, 1])
async def test_quiet_hours_hold_each_members_row_as_their_settings_say(
    app: App, settings: Settings, monkeypatch: pytest.MonkeyPatch, most_choices: int
) -> None:
    """Also when a batch has more distinct settings than one statement spells out: it is
    halved until it has few enough."""
    monkeypatch.setattr(broadcasting, "MAX_QUIET_CHOICES", most_choices)
    ids = await union(app, 6)
    own = {
        "m1": MemberSettings(member_id=ids["m1"], quiet_hours=False),
        "m2": MemberSettings(
            member_id=ids["m2"], quiet_hours=True, quiet_start="22:30", quiet_end="06:00"
        ),
        "m3": MemberSettings(
            member_id=ids["m3"], quiet_hours=True, quiet_start="21:00", quiet_end="22:30"
        ),
        "m4": MemberSettings(member_id=ids["m4"], quiet_hours=True, reminders=False),
    }
    async with app.sessions() as session, session.begin():
        session.add_all(own.values())
    night = await record(app, "test:night", Recipients("all"), SHANGHAI_NIGHT)
    urgent = await record(app, "test:urgent", Recipients("all"), SHANGHAI_NIGHT, urgent=True)
    batches = await expand_pending(app, size=4, clock=lambda: SHANGHAI_NIGHT)
    assert batches == {500: 4, 1: 6}[most_choices], "2 a broadcast, or more when halved"

    held = {r.member_id: r.not_before for r in await rows(app, night)}
    for name, member_id in ids.items():
        window = member_window(settings, own.get(name))
        assert held[member_id] == release_time(SHANGHAI_NIGHT, window, settings.zone), name
    morning = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    assert held[ids["m0"]] == held[ids["m4"]] == morning, "07:30 in Shanghai"
    assert held[ids["m1"]] == held[ids["m3"]] == SHANGHAI_NIGHT
    assert held[ids["m2"]] == datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
    assert {r.not_before for r in await rows(app, urgent)} == {SHANGHAI_NIGHT}


async def test_an_empty_audience_finishes_at_once(app: App) -> None:
    await union(app, 3)
    broadcast_id = await record(app, "test:nobody", Recipients("town", "温州"), SHANGHAI_NIGHT)
    await expand_pending(app)
    done = await the_broadcast(app, broadcast_id)
    assert done.total == 0 and done.finished_at is not None


async def counters_and_outbox(app: App, broadcast_id: int) -> tuple[dict[str, int], Counter[str]]:
    async with app.sessions() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        tallied = await broadcasts.tallies(session, [broadcast_id])
        counted = broadcasts.by_status([broadcast], tallied)[broadcast_id]
        statuses = await session.scalars(
            select(Delivery.status).where(Delivery.broadcast_id == broadcast_id)
        )
        in_outbox = Counter(DeliveryStatus.PENDING if s == "sending" else s for s in statuses)
    return counted, in_outbox


async def test_every_way_an_outcome_is_written_keeps_the_counters_true(app: App) -> None:
    await union(app, 8)
    broadcast_id = await record(app, "test:counted", Recipients("all"), SHANGHAI_NIGHT)
    await expand_pending(app, clock=lambda: SHANGHAI_NIGHT)
    first, second, third, fourth, fifth, *_ = [r.id for r in await rows(app, broadcast_id)]
    async with app.sessions() as session, session.begin():
        now = SHANGHAI_NIGHT
        await outbox.record(session, [first, second], DeliveryStatus.SENT, now)
        await outbox.record(session, [third], DeliveryStatus.FAILED, now, "no")
        await outbox.record(session, [third], DeliveryStatus.SENT, now)  # settled again
        await outbox.record(session, [first], DeliveryStatus.SENT, now)  # recorded twice
        await outbox.record(session, [fourth], DeliveryStatus.PENDING, now, "retry", now)
        await outbox.claim(session, fifth)
    counted, in_outbox = await counters_and_outbox(app, broadcast_id)
    assert counted == in_outbox == {"sent": 3, "pending": 5}

    async with app.sessions() as session, session.begin():
        assert await outbox.settle_interrupted(session, SHANGHAI_NIGHT) == 1
        await outbox.record(session, [fourth], DeliveryStatus.BLOCKED, SHANGHAI_NIGHT)
        await outbox.close_finished(session, SHANGHAI_NIGHT)
    counted, in_outbox = await counters_and_outbox(app, broadcast_id)
    assert counted == in_outbox == {"sent": 3, "failed": 1, "blocked": 1, "pending": 3}
    assert (await the_broadcast(app, broadcast_id)).finished_at is None

    morning = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    async with app.sessions() as session, session.begin():
        assert await outbox.take(session, "console", SHANGHAI_NIGHT) == [], "quiet hours"
        taken = await outbox.take(session, "console", morning)
    assert len(taken) == 3
    counted, in_outbox = await counters_and_outbox(app, broadcast_id)
    assert counted == in_outbox == {"sent": 6, "failed": 1, "blocked": 1}
    assert (await the_broadcast(app, broadcast_id)).finished_at == morning


async def test_a_notice_recorded_in_another_process_is_expanded_by_the_leader(
    settings: Settings,
) -> None:
    """The request that records it only wakes the leader (NOTIFY on PostgreSQL)."""
    from bot.background import Background

    leader = build_app(settings)
    writer = build_app(settings) if settings.database_url.startswith("postgresql") else leader
    background = Background(leader)
    try:
        await union(writer, 5)
        await background.start()
        await asyncio.wait_for(background.leadership.leading.wait(), 10)
        await asyncio.sleep(0.3)  # the leader's expander is idle
        broadcast_id = await record(writer, "test:woken", Recipients("all"), SHANGHAI_NIGHT)
        for _ in range(100):
            if (await the_broadcast(writer, broadcast_id)).expanded_at is not None:
                break
            await asyncio.sleep(0.05)
        assert len(await rows(writer, broadcast_id)) == 5
    finally:
        await background.stop()
        await leader.close()
        if writer is not leader:
            await writer.close()
