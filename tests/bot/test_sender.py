"""The sender works through the durable outbox: sends, honours retry_after, backs off on
network errors, gives up on permanent failures, marks blocked members, leaves rows for
channels it does not run, and never sends again what a dead sender left in flight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import App
from bot.broadcasting import publish
from bot.channels.base import RateLimited, RecipientBlocked, TemporaryFailure
from bot.i18n import Translator
from bot.messages import Outgoing
from bot.pacing import Pacer
from bot.sender import MAX_ATTEMPTS, Sender
from bot.settings import Settings
from storage import members, outbox
from storage.models import Broadcast, Delivery, DeliveryStatus, Identity
from tests.channels.conftest import make_channel
from tests.channels.fake_telegram import FakeTelegram

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
