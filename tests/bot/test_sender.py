"""The sender works through the durable outbox: sends, honours retry_after, backs off on
network errors, gives up on permanent failures, marks blocked members, leaves rows for
channels it does not run, and never sends again what a dead sender left in flight."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import DataError, OperationalError

from bot import delivery, outbox_writer, outcomes
from bot.app import App
from bot.broadcasting import publish
from bot.channels.base import RateLimited, RecipientBlocked, Routed, TemporaryFailure
from bot.channels.wechat import WeChatChannel
from bot.channels.wechat.api import WeChatApi
from bot.delivery import MessageClass
from bot.i18n import Translator
from bot.messages import Outgoing
from bot.outcomes import MAX_ATTEMPTS
from bot.pacing import Pacer, take_slot
from bot.sender import Sender
from bot.settings import Settings
from storage import broadcasts, members, outbox
from storage.models import Broadcast, Delivery, DeliveryStatus, Identity, Member, Route
from storage.types import utcnow
from tests.channels.conftest import make_channel
from tests.channels.fake_telegram import FakeTelegram
from tests.wechat_support import FakeWeChat, served, wechat_settings
from unionbot.app import build_app

NOON = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
NIGHT = datetime(2026, 11, 25, 15, 15, tzinfo=UTC)  # 23:15 in Shanghai


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, key_dir=tmp_path / "keys", _env_file=None)  # type: ignore[call-arg]


class Flaky:
    """A channel whose answer for each recipient the test chooses."""

    name = "telegram"

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.answers: dict[str, list[Exception]] = {}

    async def send(self, external_id: str, message: Outgoing) -> None:
        planned = self.answers.get(external_id)
        if planned:
            raise planned.pop(0)
        self.sent.append(external_id)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def hello(t: Translator) -> Outgoing:
    return Outgoing(t("menu.title"))


async def recipients(app: App, *names: str, channel: str = "telegram") -> list[int]:
    ids = []
    async with app.sessions() as session, session.begin():
        for name in names:
            _, member = await members.create_member(session, channel, name, name, "zh_CN")
            ids.append(member.id)
    return ids


async def broadcast(app: App, ids: list[int], now: datetime, key: str = "test:1") -> None:
    async with app.sessions() as session, session.begin():
        await publish(session, app.outbox, key, [(i, hello) for i in ids], now)


async def statuses(app: App) -> dict[int, tuple[str, str | None]]:
    async with app.sessions() as session:
        rows = await session.scalars(select(Delivery).order_by(Delivery.member_id))
        return {row.member_id: (row.status, row.reason) for row in rows}


class Monotonic:
    """The pacer's clock, which a pause moves on instead of sleeping."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def sender(app: App, channel: Flaky, clock: Clock) -> Sender:
    app.outbox.attach(channel)
    monotonic = Monotonic()
    pacer = Pacer(30, clock=monotonic, sleep=monotonic.sleep)
    return Sender(app, {"telegram": pacer}, clock=clock)


async def test_every_recipient_gets_one_message_and_the_broadcast_finishes(app: App) -> None:
    ids = await recipients(app, "a", "b", "c")
    await broadcast(app, ids, NOON)
    await broadcast(app, ids, NOON)
    channel = Flaky()
    await sender(app, channel, Clock(NOON)).send_all()
    assert sorted(channel.sent) == ["a", "b", "c"]  # several at a time, in no set order
    assert {s for s, _ in (await statuses(app)).values()} == {"sent"}
    async with app.sessions() as session:
        [written] = (await session.scalars(select(Broadcast))).all()
        assert written.finished_at == NOON


async def test_rate_limit_answers_are_retried_after_the_time_asked(app: App) -> None:
    [a] = await recipients(app, "a")
    await broadcast(app, [a], NOON)
    channel = Flaky()
    channel.answers["a"] = [RateLimited(7)]
    clock = Clock(NOON)
    send = sender(app, channel, clock)
    await send.send_all()
    assert channel.sent == []
    assert (await statuses(app))[a] == ("pending", "rate limited 7s")
    clock.now = NOON + timedelta(seconds=6)
    await send.send_all()
    assert channel.sent == []
    clock.now = NOON + timedelta(seconds=7)
    await send.send_all()
    assert channel.sent == ["a"]


async def test_network_errors_back_off_then_give_up(app: App) -> None:
    [a, b] = await recipients(app, "a", "b")
    await broadcast(app, [a, b], NOON)
    channel = Flaky()
    channel.answers["a"] = [TemporaryFailure("timeout")]
    channel.answers["b"] = [OSError("reset")] * MAX_ATTEMPTS
    clock = Clock(NOON)
    send = sender(app, channel, clock)
    for _ in range(MAX_ATTEMPTS + 1):
        await send.send_all()
        clock.now += timedelta(minutes=15)
    assert channel.sent == ["a"]
    status, reason = (await statuses(app))[b]
    assert status == "failed" and reason is not None and reason.startswith("gave up")


async def test_permanent_failures_and_blocked_members_are_marked(app: App) -> None:
    [a, b, c] = await recipients(app, "a", "b", "c")
    await broadcast(app, [a, b, c], NOON)
    channel = Flaky()
    channel.answers["a"] = [ValueError("chat not found")]
    channel.answers["b"] = [RecipientBlocked()]
    await sender(app, channel, Clock(NOON)).send_all()
    found = await statuses(app)
    assert found[a] == ("failed", "ValueError: chat not found")
    assert found[b] == ("blocked", "blocked the bot")
    assert found[c] == ("sent", None)
    async with app.sessions() as session:
        blocked = await session.scalar(select(Identity).where(Identity.external_id == "b"))
        assert blocked is not None and blocked.active is False


async def test_rows_for_a_channel_not_running_here_wait_for_a_sender_that_runs_it(
    app: App,
) -> None:
    [a] = await recipients(app, "a", channel="wechat")
    await broadcast(app, [a], NOON)
    await sender(app, Flaky(), Clock(NOON)).send_all()
    assert (await statuses(app))[a] == ("pending", None)

    class WeChat(Flaky):
        name = "wechat"

    wechat = WeChat()
    await sender(app, wechat, Clock(NOON)).send_all()
    assert wechat.sent == ["a"]
    assert (await statuses(app))[a] == ("sent", None)


async def test_a_row_left_in_flight_by_a_dead_sender_is_not_sent_again(app: App) -> None:
    [a, b] = await recipients(app, "a", "b")
    await broadcast(app, [a, b], NOON)
    async with app.sessions() as session, session.begin():
        assert await outbox.claim(session, 1)
    channel = Flaky()
    send = sender(app, channel, Clock(NOON))
    async with app.sessions() as session, session.begin():
        assert await outbox.settle_interrupted(session, NOON) == 1
    await send.send_all()
    assert channel.sent == ["b"]
    assert (await statuses(app))[a] == ("failed", "interrupted")


async def test_quiet_hours_hold_a_night_broadcast_until_morning(app: App) -> None:
    [a] = await recipients(app, "a")
    await broadcast(app, [a], NIGHT)
    channel = Flaky()
    clock = Clock(NIGHT)
    send = sender(app, channel, clock)
    await send.send_all()
    assert channel.sent == []
    clock.now = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # 07:30 next morning locally
    await send.send_all()
    assert channel.sent == ["a"]


async def test_urgent_messages_ignore_quiet_hours(app: App) -> None:
    [a] = await recipients(app, "a")
    async with app.sessions() as session, session.begin():
        await publish(session, app.outbox, "urgent:1", [(a, hello)], NIGHT, urgent=True)
    channel = Flaky()
    await sender(app, channel, Clock(NIGHT)).send_all()
    assert channel.sent == ["a"]


async def test_the_statuses_are_constrained_in_the_schema(app: App) -> None:
    [a] = await recipients(app, "a")
    await broadcast(app, [a], NOON)
    with pytest.raises(Exception, match=r"(?i)check|constraint"):
        async with app.sessions() as session, session.begin():
            await outbox.record(session, [1], "lost", NOON)  # type: ignore[arg-type]
    assert DeliveryStatus.SENT == "sent"


async def test_telegrams_rate_limit_pauses_the_row_and_it_is_then_sent_once(app: App) -> None:
    """Through the real Telegram channel: Telegram says slow down twice (the channel's own
    retry, then ``RateLimited``); the row waits ``retry_after`` and goes out exactly once."""
    [member] = await recipients(app, "1001")
    await broadcast(app, [member], NOON)
    fake = FakeTelegram()
    await fake.start()
    channel = make_channel(app, fake)
    await channel.start(webhook=True)
    try:
        fake.fail_next("sendMessage", "retry_after", retry_after=1)
        fake.fail_next("sendMessage", "retry_after", retry_after=1)
        clock = Clock(NOON)
        monotonic = Monotonic()
        pacer = Pacer(30, clock=monotonic, sleep=monotonic.sleep)
        the_sender = Sender(app, {"telegram": pacer}, clock=clock)
        await the_sender.send_all()
        assert (await statuses(app))[member] == ("pending", "rate limited 1.0s")
        assert fake.events_in(1001) == []
        await the_sender.send_all()
        assert fake.events_in(1001) == []
        clock.now = NOON + timedelta(seconds=2)
        await the_sender.send_all()
    finally:
        await channel.stop()
        await fake.stop()
    assert (await statuses(app))[member][0] == "sent"
    assert [e.text for e in fake.events_in(1001)] == ["您好！这里是职工服务平台，请选择："]
    assert len(fake.calls_of("sendMessage")) == 3


# --- a loop per channel, several sends in flight --------------------------------------------


class Held(Flaky):
    """A channel whose API does not answer until the test lets it."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.answer = asyncio.Event()
        self.asked = 0

    async def send(self, external_id: str, message: Outgoing) -> None:
        self.asked += 1
        await self.answer.wait()
        self.sent.append(external_id)


class Slow(Flaky):
    """An API that takes ``latency`` seconds to answer; counts the calls under way, and
    takes the pacer's slot at each call as the real channels do."""

    takes_slots = True

    def __init__(self, latency: float) -> None:
        super().__init__()
        self.latency = latency
        self.under_way: dict[str, int] = {}
        self.most_at_once = 0
        self.most_for_one_chat = 0

    async def send(self, external_id: str, message: Outgoing) -> None:
        await take_slot()
        self.under_way[external_id] = self.under_way.get(external_id, 0) + 1
        self.most_at_once = max(self.most_at_once, sum(self.under_way.values()))
        self.most_for_one_chat = max(self.most_for_one_chat, self.under_way[external_id])
        await asyncio.sleep(self.latency)
        self.under_way[external_id] -= 1
        self.sent.append(f"{external_id}:{message.text}")


async def until(condition: Callable[[], bool], seconds: float = 60) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 (the channels' lists are plain lists)
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("stuck", ["telegram", "wechat"])
async def test_a_channel_whose_api_hangs_does_not_hold_up_the_other(app: App, stuck: str) -> None:
    """The stuck channel's members come first in the outbox; the other's still get theirs
    at once. On stop the stuck sends under way finish and are recorded, the rest wait."""
    other = "wechat" if stuck == "telegram" else "telegram"
    held = await recipients(app, *(f"h{n}" for n in range(30)), channel=stuck)
    flowing = await recipients(app, *(f"f{n}" for n in range(10)), channel=other)
    await broadcast(app, held + flowing, NOON)
    hanging, answering = Held(stuck), Held(other)
    answering.answer.set()
    app.outbox.attach(hanging)
    app.outbox.attach(answering)
    stop = asyncio.Event()
    sender = Sender(app, {stuck: Pacer(0), other: Pacer(0)}, clock=Clock(NOON))
    running = asyncio.create_task(sender.run(stop))
    try:
        await until(lambda: len(answering.sent) == 10 and hanging.asked > 0)
        assert hanging.sent == []
    finally:
        stop.set()
        hanging.answer.set()
        await running
    found = await statuses(app)
    assert {found[m] for m in flowing} == {("sent", None)}
    held_statuses = [found[m][0] for m in held]
    assert held_statuses.count("sent") == len(hanging.sent) == hanging.asked
    assert set(held_statuses) == {"sent", "pending"}, "the unclaimed ones wait for the next leader"


async def test_sends_overlap_against_a_slow_api_and_one_member_gets_one_at_a_time(
    app: App,
) -> None:
    """At 20 a second and 0.2 s an answer, one send at a time would reach 5 a second; the
    sender keeps several under way, never two for one member, whose messages keep their
    order."""
    ids = await recipients(app, *(f"m{n}" for n in range(30)))
    async with app.sessions() as session, session.begin():
        for number in (1, 2, 3):
            await app.outbox.write(
                session,
                [(ids[0], lambda t, n=number: Outgoing(f"#{n}"))],  # type: ignore[misc]
                MessageClass.INTERACTIVE,
                NOON,
            )
    await broadcast(app, ids, NOON)
    channel = Slow(latency=0.2)
    app.outbox.attach(channel)
    await Sender(app, {"telegram": Pacer(20)}, clock=Clock(NOON)).send_all()
    assert len(channel.sent) == 33
    assert channel.most_at_once >= 3
    assert channel.most_for_one_chat == 1
    first = [sent for sent in channel.sent if sent.startswith("m0:")]
    assert first == ["m0:#1", "m0:#2", "m0:#3", "m0:您好！这里是职工服务平台，请选择："]


async def test_no_second_holds_more_than_the_limit_with_sends_in_flight(
    settings: Settings,
) -> None:
    """Through the real WeChat channel, which reads and writes the database before each
    call: the one-second windows of API requests, timed as each request leaves, never
    hold more than ``UNIONBOT_WECHAT_RATE``."""
    limit = 20
    leaving: list[float] = []

    async def timed(request: httpx.Request) -> None:
        if request.url.path.endswith("/message/custom/send"):
            leaving.append(time.monotonic())

    async with served(FakeWeChat().app()) as api_url:
        app = build_app(wechat_settings(settings, api_url, quiet_hours="", wechat_rate=limit))
        client = httpx.AsyncClient(base_url=api_url, event_hooks={"request": [timed]})
        channel = WeChatChannel(app, WeChatApi(app.settings, app.sessions, client))
        app.outbox.attach(channel)
        try:
            ids = await recipients(app, *(f"o-{n}" for n in range(50)), channel="wechat")
            async with app.sessions() as session, session.begin():
                await app.outbox.write(
                    session, [(i, hello) for i in ids], MessageClass.INTERACTIVE, utcnow()
                )
            sender = Sender(app)
            await sender.send_all()
        finally:
            await channel.stop()
            await app.close()
    assert sender.stats.sent == 50
    assert len(leaving) == 50
    assert max_in_window(leaving) <= limit


def max_in_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_a_channels_bulk_step_comes_first_and_its_failure_stops_no_other_send(
    app: App,
) -> None:
    [a] = await recipients(app, "a")
    await broadcast(app, [a], NOON)

    class Bulky(Flaky):
        def __init__(self) -> None:
            super().__init__()
            self.sent_before_bulk: list[int] = []

        async def send_bulk(self, now: datetime) -> int:
            self.sent_before_bulk.append(len(self.sent))
            raise ConnectionError("the mass endpoint is down")

    channel = Bulky()
    await sender(app, channel, Clock(NOON)).send_all()
    assert channel.sent_before_bulk[0] == 0
    assert channel.sent == ["a"]


async def test_outcomes_written_together_are_all_recorded_once_after_a_failed_write(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several outcomes go in one transaction; the first try fails after writing some of
    them (the connection drops): every row ends with its own outcome, the broadcast's
    counters count each once, and the blocked member's identity is inactive."""
    names = ["sent1", "sent2", "limited", "blocked", "refused"]
    ids = await recipients(app, *names)
    await broadcast(app, ids, NOON)
    channel = Flaky()
    channel.answers["limited"] = [RateLimited(7)]
    channel.answers["blocked"] = [RecipientBlocked()]
    channel.answers["refused"] = [ValueError("too long")]
    real = outbox.record_outcomes
    written: list[int] = []

    async def dropped_once(session: Any, outcomes: Any, now: datetime) -> None:
        await real(session, outcomes, now)
        written.append(len(outcomes))
        if len(written) == 1:
            raise OperationalError("UPDATE", {}, ConnectionResetError("connection lost"))

    monkeypatch.setattr(outbox, "record_outcomes", dropped_once)
    monkeypatch.setattr(outbox_writer, "RIDE_SECONDS", 1.0)  # all five in few batches
    monkeypatch.setattr(outbox_writer, "RETRY_SECONDS", (0.0,))
    send = sender(app, channel, Clock(NOON))
    await send.send_all()
    assert sorted(channel.sent) == ["sent1", "sent2"]
    assert max(written) > 1, "outcomes were written in batches"
    found = await statuses(app)
    assert [found[i] for i in ids] == [
        ("sent", None),
        ("sent", None),
        ("pending", "rate limited 7s"),
        ("blocked", "blocked the bot"),
        ("failed", "ValueError: too long"),
    ]
    assert (send.stats.sent, send.stats.retried, send.stats.blocked, send.stats.failed) == (
        2,
        1,
        1,
        1,
    )
    async with app.sessions() as session:
        [written_broadcast] = (await session.scalars(select(Broadcast))).all()
        counts = (await broadcasts.tallies(session, [written_broadcast.id]))[written_broadcast.id]
        blocked = await session.scalar(select(Identity).where(Identity.external_id == "blocked"))
    assert counts == {("", "sent"): 2, ("", "blocked"): 1, ("", "failed"): 1}
    assert blocked is not None and blocked.active is False


async def test_a_route_reason_longer_than_its_column_is_cut_and_the_row_recorded_sent(
    app: App,
) -> None:
    """PostgreSQL refuses a value longer than the column; the outcome must still be written
    (cut), not tried again forever while every other send waits behind it."""
    ids = await recipients(app, "a", "b")
    await broadcast(app, ids, NOON)

    class Wordy(Flaky):
        async def send(self, external_id: str, message: Outgoing) -> Routed:
            await super().send(external_id, message)
            return Routed(Route.INBOX, "inbox: " + "no route would take it, " * 10)

    await sender(app, Wordy(), Clock(NOON)).send_all()
    async with app.sessions() as session:
        rows = (await session.scalars(select(Delivery).order_by(Delivery.id))).all()
    assert [(r.status, r.route) for r in rows] == [("sent", "inbox"), ("sent", "inbox")]
    assert all(r.route_reason and len(r.route_reason) == 120 for r in rows)


async def test_a_row_claimed_twice_in_one_batch_is_sent_once(app: App) -> None:
    """Two loops may both read a row (the member's preferred identity changed between
    their reads): when both claims go in one transaction only one gets the message."""
    [a] = await recipients(app, "a")
    await broadcast(app, [a], NOON)
    async with app.sessions() as session:
        [row] = (await session.scalars(select(Delivery))).all()
    writer = sender(app, Flaky(), Clock(NOON)).writer
    bodies = await asyncio.gather(writer.claim(row), writer.claim(row))
    assert sum(body is not None for body in bodies) == 1
    assert (await statuses(app))[a] == ("sending", None)


async def test_an_outcome_the_database_refuses_loses_only_its_own_row(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outcomes written together with a refused one are written one at a time: only
    the refused row stays ``sending``, the others are recorded and counted."""
    ids = await recipients(app, "refused", "sent1", "sent2")
    await broadcast(app, ids, NOON)
    channel = Flaky()
    channel.answers["refused"] = [ValueError("the database refuses this")]
    real = outbox.record_outcomes
    written: list[int] = []

    async def refusing(session: Any, outcomes: Any, now: datetime) -> None:
        written.append(len(outcomes))
        if any("refuses" in (o.reason or "") for o in outcomes):
            raise DataError("UPDATE", {}, ValueError("value too long"))
        await real(session, outcomes, now)

    monkeypatch.setattr(outbox, "record_outcomes", refusing)
    monkeypatch.setattr(outbox_writer, "RIDE_SECONDS", 1.0)  # all three in one batch
    send = sender(app, channel, Clock(NOON))
    await send.send_all()
    assert sorted(channel.sent) == ["sent1", "sent2"]
    assert max(written) > 1, "outcomes were written in batches"
    found = await statuses(app)
    assert [found[i] for i in ids] == [("sending", None), ("sent", None), ("sent", None)]
    assert (send.stats.sent, send.stats.failed) == (2, 0)


async def test_a_live_row_whose_renderer_raises_fails_alone(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live row's renderer raising inside the batch's claim transaction fails that row
    only: the other claims of the batch are sent, and the row is not read again."""
    [a, b] = await recipients(app, "a", "b")

    async def broken(session: Any, t: Translator, thing: int, since: int) -> Outgoing | None:
        raise RuntimeError("the renderer is broken")

    monkeypatch.setitem(delivery.LIVE_RENDERERS, "broken", broken)
    async with app.sessions() as session, session.begin():
        audience = select(Member.id).where(Member.id == a)
        await app.outbox.write_live(session, "broken", 1, 0, audience, NOON)
    await broadcast(app, [b], NOON)
    channel = Flaky()
    async with asyncio.timeout(10):
        await sender(app, channel, Clock(NOON)).send_all()
    assert channel.sent == ["b"]
    found = await statuses(app)
    assert found[a] == ("failed", "render failed: RuntimeError")
    assert found[b] == ("sent", None)


async def test_a_row_for_a_member_with_no_account_is_failed_and_counted_once(app: App) -> None:
    [a] = await recipients(app, "a")
    await broadcast(app, [a], NOON)
    async with app.sessions() as session, session.begin():
        [identity] = (await session.scalars(select(Identity))).all()
        await members.mark_inactive(session, identity.id)
    send = sender(app, Flaky(), Clock(NOON))
    await send.send_all()
    assert (await statuses(app))[a] == ("failed", "no active account")
    assert send.stats.failed == 1


async def test_a_flush_still_under_way_is_not_slowed_when_another_ends(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two flushes overlap and one ends (cancelled) while the first write is under way: an
    outcome handed in meanwhile is still written at once for the other, not after
    RIDE_SECONDS."""
    ids = await recipients(app, "a", "b")
    await broadcast(app, ids, NOON)
    async with app.sessions() as session:
        first, second = (await session.scalars(select(Delivery).order_by(Delivery.id))).all()
    real = outbox.record_outcomes
    writing, go_on = asyncio.Event(), asyncio.Event()

    async def held(session: Any, written: Any, now: datetime) -> None:
        writing.set()
        await go_on.wait()
        await real(session, written, now)

    monkeypatch.setattr(outbox, "record_outcomes", held)
    monkeypatch.setattr(outbox_writer, "RIDE_SECONDS", 60.0)
    writer = sender(app, Flaky(), Clock(NOON)).writer
    writer.record(first, outcomes.failed(first, "one"))
    flushes = [asyncio.create_task(writer.flush()) for _ in range(2)]
    await writing.wait()
    flushes[0].cancel()
    writer.record(second, outcomes.failed(second, "two"))
    go_on.set()
    async with asyncio.timeout(10):
        await flushes[1]
    assert [s for s, _ in (await statuses(app)).values()] == ["failed", "failed"]
