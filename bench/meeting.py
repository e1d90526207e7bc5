"""A speaker's reply latency in a live meeting with 1 and with 500 watchers, through the
Telegram stand-in.

Run by hand: ``python bench/meeting.py [--watchers 500] [--statements 40]``, on SQLite in a
temporary file and, when it answers, a throwaway PostgreSQL database (as
``bench/dispatch.py``). Two enterprises each have a bargaining meeting open, chaired by a
Telegram member; one meeting has 1 watcher, the other ``--watchers``, all on Telegram. The
real Telegram channel polls the stand-in (``tests/channels/fake_telegram.py``) and the
leader's background (scheduler and sender, paced at Telegram's 30 messages a second) runs
in the same process, so relays really go out while the chairs speak. The two chairs speak
in turn (interleaved, so whatever else the machine does slows both alike); each statement's
latency is from the update being offered to ``getUpdates`` to the chair's "said" reply
reaching the stand-in. Prints the median and 90th percentile of each and the ratio of the
medians (target <= 1.2): relays are outbox rows, so the speaker waits for their insert, not
for their sending.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from dispatch import bench_databases
from sqlalchemy import insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the stand-in lives in tests/

from bot.app import App
from bot.background import Background
from bot.channels.telegram import TelegramChannel
from bot.settings import Settings
from storage.migrate import upgrade
from storage.models import Enterprise, Identity, Member, Role, RoleGrant
from storage.models.bargaining import BargainingSession, Follower
from storage.types import utcnow
from tests.channels.fake_telegram import FakeTelegram
from unionbot.app import build_app

TARGET = 1.2
SMALL_CHAIR, LARGE_CHAIR = 1, 2
FIRST_WATCHER = 10_000
SAID = "已发言（第 "


async def telegram_member(app: App, user: int, enterprise: int | None = None) -> int:
    now = utcnow()
    async with app.sessions() as session, session.begin():
        member = Member(
            display_name=f"工友{user}",
            language="zh_CN",
            enterprise_id=enterprise,
            enterprise_status="verified" if enterprise else None,
            created_at=now,
        )
        session.add(member)
        await session.flush()
        session.add(
            Identity(
                member_id=member.id,
                channel="telegram",
                external_id=str(user),
                active=True,
                last_seen_at=now,
            )
        )
        return member.id


async def open_meeting(app: App, name: str, chair: int, watchers: int, first: int) -> None:
    """An enterprise whose chair is the Telegram user ``chair``, a session at step 5 with
    its meeting open, and ``watchers`` Telegram followers from user ``first`` on."""
    async with app.sessions() as session, session.begin():
        enterprise = Enterprise(name=name, city="永康")
        session.add(enterprise)
        await session.flush()
        bs = BargainingSession(
            enterprise_id=enterprise.id,
            kind="wage",
            title=f"{name} 2027 年度工资集体协商",
            year=2027,
            code=f"BENCH{chair}",
            step=5,
            meeting_opened_at=utcnow(),
        )
        session.add(bs)
        await session.flush()
        enterprise_id, session_id = enterprise.id, bs.id
    chair_id = await telegram_member(app, chair, enterprise_id)
    async with app.sessions() as session, session.begin():
        session.add(RoleGrant(member_id=chair_id, role=Role.CHAIR, scope=str(enterprise_id)))
    now = utcnow()
    async with app.sessions() as session, session.begin():
        await session.execute(
            insert(Member),
            [
                {
                    "display_name": f"工友{user}",
                    "language": "zh_CN",
                    "enterprise_id": enterprise_id,
                    "enterprise_status": "verified",
                    "created_at": now,
                }
                for user in range(first, first + watchers)
            ],
        )
        watching = select(Member.id).where(
            Member.enterprise_id == enterprise_id, Member.id != chair_id
        )
        ids = list(await session.scalars(watching))
        await session.execute(
            insert(Identity),
            [
                {
                    "member_id": member_id,
                    "channel": "telegram",
                    "external_id": str(first + n),
                    "active": True,
                    "last_seen_at": now,
                }
                for n, member_id in enumerate(ids)
            ],
        )
        await session.execute(
            insert(Follower), [{"session_id": session_id, "member_id": m} for m in ids]
        )


async def latency(fake: FakeTelegram, chair: int, n: int) -> float:
    started = time.perf_counter()
    [said] = await fake.say(chair, f"第 {n} 点意见：夜班津贴每班增加 10 元")
    elapsed = time.perf_counter() - started
    assert said.text.startswith(SAID), said.text
    return elapsed


async def measure(url: str, watchers: int, statements: int) -> tuple[list[float], list[float]]:
    fake = FakeTelegram()
    await fake.start()
    settings = Settings(  # type: ignore[call-arg]
        database_url=url,
        quiet_hours="",
        telegram_token=fake.token,
        telegram_api_url=fake.url,
        _env_file=None,
    )
    app = build_app(settings)
    await upgrade(app.engine)
    await open_meeting(app, "众诚五金", SMALL_CHAIR, 1, FIRST_WATCHER)
    await open_meeting(app, "顺虎铝业", LARGE_CHAIR, watchers, FIRST_WATCHER + 1)
    if url.startswith("postgresql"):
        async with app.engine.begin() as connection:  # as autovacuum does on a live server
            await connection.execute(text("ANALYZE"))
    channel = TelegramChannel(app.dispatcher, settings, poll_timeout=1)
    app.outbox.attach(channel)
    await channel.start(webhook=False)
    background = Background(app)
    await background.start()
    small: list[float] = []
    large: list[float] = []
    try:
        for n in range(3):  # warm up both paths
            await latency(fake, SMALL_CHAIR, n)
            await latency(fake, LARGE_CHAIR, n)
        for n in range(statements):
            small.append(await latency(fake, SMALL_CHAIR, n))
            large.append(await latency(fake, LARGE_CHAIR, n))
        relayed = sum(1 for e in fake.events if e.chat_id >= FIRST_WATCHER)
        print(f"  relays sent meanwhile: {relayed}")
    finally:
        await background.stop()
        await channel.stop()
        await app.close()
        await fake.stop()
    return small, large


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[int(len(ordered) * 0.9) - 1]
    return f"median {statistics.median(values) * 1000:6.1f} ms, p90 {p90 * 1000:6.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=500)
    parser.add_argument("--statements", type=int, default=40)
    args = parser.parse_args()
    async with bench_databases() as databases:
        for label, url in databases:
            print(f"{label}:")
            small, large = await measure(url, args.watchers, args.statements)
            ratio = statistics.median(large) / statistics.median(small)
            verdict = "meets" if ratio <= TARGET else "misses"
            print(f"  1 watcher:    {summary(small)}")
            print(f"  {args.watchers} watchers: {summary(large)}")
            print(f"  ratio of medians {ratio:.2f} ({verdict} the <= {TARGET} target)")


if __name__ == "__main__":
    asyncio.run(main())
