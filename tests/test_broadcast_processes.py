"""Real ``unionbot run`` processes sending through the Telegram stand-in: a broadcast
recorded by another process is expanded by the leader; interrupted by killing the sending
process, it completes after a restart with no one messaged twice; of two processes on one
database only the leader sends, and when it is killed the other takes over; SIGTERM stops a
process in order (the send under way is recorded, leadership released) and it exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from collections.abc import Callable

from sqlalchemy import func, select

from bot.broadcasting import Recipients, start
from bot.i18n import Translator
from bot.messages import Outgoing
from bot.sender import READY
from bot.settings import Settings
from storage import members
from storage.models import Delivery, DeliveryStatus
from storage.types import utcnow
from tests.channels.fake_telegram import FakeTelegram
from tests.test_cli import UNIONBOT
from unionbot.app import build_app

RECIPIENTS = 40
FIRST_CHAT = 5000
ENV = {
    "UNIONBOT_QUIET_HOURS": "",
    "UNIONBOT_TELEGRAM_RATE": "10",
    "UNIONBOT_LEADER_CHECK_SECONDS": "0.3",
    "UNIONBOT_SENDER_POLL_SECONDS": "0.2",
}


class Bot:
    """``unionbot run`` against the stand-in, its log read as it comes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.log: list[str] = []
        self._reading = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, url: str, fake: FakeTelegram) -> Bot:
        env = {k: v for k, v in os.environ.items() if not k.startswith("UNIONBOT_")}
        env.update(
            ENV,
            UNIONBOT_DATABASE_URL=url,
            UNIONBOT_TELEGRAM_TOKEN=fake.token,
            UNIONBOT_TELEGRAM_API_URL=fake.url,
        )
        process = await asyncio.create_subprocess_exec(
            UNIONBOT,
            "run",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self.log.append(line.decode())

    def leads(self) -> bool:
        return any("is the leader" in line for line in self.log)

    async def wait_until(self, condition: Callable[[], bool], seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert self.process.returncode is None, "".join(self.log)
            assert time.monotonic() < deadline, "".join(self.log[-20:])
            await asyncio.sleep(0.05)

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> int:
        """SIGTERM, as systemd and ``docker stop`` send; the exit status."""
        self.process.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(self.process.wait(), 20)
        await self._reading
        return status


def notice(t: Translator) -> Outgoing:
    return Outgoing(t("menu.title"))


async def write_broadcast(url: str) -> None:
    app = build_app(Settings(database_url=url, quiet_hours="", _env_file=None))  # type: ignore[call-arg]
    try:
        async with app.sessions() as session, session.begin():
            for n in range(RECIPIENTS):
                chat = str(FIRST_CHAT + n)
                await members.create_member(session, "telegram", chat, chat, "zh_CN")
            await start(session, app.outbox, "test:kill", Recipients("all"), notice, utcnow())
    finally:
        await app.close()


async def outcome(url: str) -> dict[str, int]:
    app = build_app(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    try:
        async with app.sessions() as session:
            rows = await session.execute(
                select(Delivery.status, func.count()).group_by(Delivery.status)
            )
            return {status: n for status, n in rows}
    finally:
        await app.close()


def received(fake: FakeTelegram) -> Counter[int]:
    """How many messages each recipient's chat got."""
    return Counter(
        e.chat_id for e in fake.events if FIRST_CHAT <= e.chat_id < FIRST_CHAT + RECIPIENTS
    )


async def settled(url: str) -> bool:
    counts = await outcome(url)
    return (
        sum(counts.values()) == RECIPIENTS
        and not counts.get(DeliveryStatus.PENDING)
        and not counts.get(DeliveryStatus.SENDING)
    )


async def wait_settled(bot: Bot, url: str) -> None:
    deadline = time.monotonic() + 30
    while not await settled(url):
        assert bot.process.returncode is None, "".join(bot.log)
        assert time.monotonic() < deadline, "".join(bot.log[-20:])
        await asyncio.sleep(0.2)


def assert_once_each(fake: FakeTelegram, counts: dict[str, int]) -> None:
    """No one twice; everyone once, but for the few sends a kill interrupted (recorded
    ``failed``: they may or may not have gone out): those the API had (one or two at 30 a
    second against the local stand-in) and the ``READY`` claimed ahead of their slot."""
    got = received(fake)
    assert max(got.values()) == 1
    assert counts.get("failed", 0) <= READY + 2
    assert counts["sent"] + counts.get("failed", 0) == RECIPIENTS
    assert len(got) >= counts["sent"]


async def test_a_killed_broadcast_finishes_after_a_restart_without_duplicates(
    database_url: str, fake: FakeTelegram
) -> None:
    first = await Bot.start(database_url, fake)
    await first.wait_until(first.leads)
    await write_broadcast(database_url)
    await first.wait_until(lambda: sum(received(fake).values()) >= 10)
    await asyncio.sleep(0.03)  # between two paced sends, as a crash usually is
    await first.kill()
    assert sum(received(fake).values()) < RECIPIENTS

    again = await Bot.start(database_url, fake)
    await again.wait_until(again.leads)
    await wait_settled(again, database_url)
    assert await again.stop() == 0
    assert_once_each(fake, await outcome(database_url))


async def test_only_the_leader_sends_and_another_takes_over_when_it_dies(
    database_url: str, fake: FakeTelegram
) -> None:
    leader = await Bot.start(database_url, fake)
    await leader.wait_until(leader.leads)
    follower = await Bot.start(database_url, fake)
    await asyncio.sleep(1.5)  # several leadership checks
    assert not follower.leads()
    await write_broadcast(database_url)
    await leader.wait_until(lambda: sum(received(fake).values()) >= 5)
    await asyncio.sleep(0.03)
    await leader.kill()
    await follower.wait_until(follower.leads)
    await wait_settled(follower, database_url)
    assert await follower.stop() == 0
    assert_once_each(fake, await outcome(database_url))


async def test_sigterm_finishes_the_send_under_way_releases_leadership_and_exits_0(
    database_url: str, fake: FakeTelegram
) -> None:
    bot = await Bot.start(database_url, fake)
    await bot.wait_until(bot.leads)
    await write_broadcast(database_url)
    await bot.wait_until(lambda: sum(received(fake).values()) >= 5)
    fake.fail_next("sendMessage", "slow", retry_after=1)  # the next send is under way a while
    await bot.wait_until(lambda: not fake.faults["sendMessage"])
    assert await bot.stop() == 0
    log = "".join(bot.log)
    assert "SIGTERM: stopping" in log and "stopped" in log
    counts = await outcome(database_url)
    assert DeliveryStatus.SENDING not in counts, "the send under way was recorded"
    assert counts["sent"] == sum(received(fake).values()) < RECIPIENTS
    assert counts["pending"] == RECIPIENTS - counts["sent"]

    successor = await Bot.start(database_url, fake)
    await successor.wait_until(successor.leads, seconds=15)
    await wait_settled(successor, database_url)
    assert await successor.stop() == 0
    assert await outcome(database_url) == {"sent": RECIPIENTS}
    assert max(received(fake).values()) == 1
