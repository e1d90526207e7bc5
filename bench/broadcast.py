"""Broadcast pacing and reminder scheduling at scale.

Run by hand: ``python bench/broadcast.py [--recipients 10000] [--speed 5] [--reminders 100000]``
on SQLite in a temporary file (``--postgres`` for the local PostgreSQL ``test`` server).

1. A broadcast to ``--recipients`` members through a local no-op channel paced at Telegram's
   30 messages/s times ``--speed`` (so the run takes minutes, not hours). Prints the achieved
   rate as a fraction of the limit (target >= 0.95), the most messages seen in any one-second
   window as a fraction of the limit (must never exceed 1.0), and, from a second, unpaced
   run, the sender's own cost per message (outbox claim and outcome, two commits).
2. ``--reminders`` reminder jobs added to APScheduler's SQL job store: time to schedule, the
   scheduler's start time with them all in the store, and the memory it took.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import tempfile
import time
import uuid
from datetime import timedelta

from sqlalchemy import insert, select

from bot.app import App
from bot.broadcasting import publish
from bot.i18n import Translator
from bot.messages import Outgoing
from bot.pacing import Pacer
from bot.scheduler import Jobs
from bot.sender import Sender
from bot.settings import Settings
from storage.migrate import upgrade
from storage.models import Identity, Member
from storage.types import utcnow
from unionbot.app import build_app

TELEGRAM_RATE = 30.0
POSTGRES = os.environ.get(
    "UNIONBOT_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


class NoopChannel:
    name = "noop"

    def __init__(self) -> None:
        self.times: list[float] = []

    async def send(self, external_id: str, message: Outgoing) -> None:
        self.times.append(time.monotonic())


def message(t: Translator) -> Outgoing:
    return Outgoing(t("menu.title"))


async def add_members(app: App, count: int, prefix: str) -> list[int]:
    async with app.sessions() as session, session.begin():
        now = utcnow()
        for start in range(0, count, 1000):
            batch = range(start, min(count, start + 1000))
            await session.execute(
                insert(Member),
                [
                    {"display_name": f"{prefix}{n}", "language": "zh_CN", "created_at": now}
                    for n in batch
                ],
            )
        ids = list(
            await session.scalars(
                select(Member.id).where(Member.display_name.like(f"{prefix}%")).order_by(Member.id)
            )
        )
        rows = [
            {
                "member_id": i,
                "channel": "noop",
                "external_id": f"{prefix}{i}",
                "active": True,
                "last_seen_at": now,
            }
            for i in ids
        ]
        for start in range(0, len(rows), 1000):
            await session.execute(insert(Identity), rows[start : start + 1000])
    return ids


async def broadcast(app: App, ids: list[int], key: str) -> float:
    started = time.perf_counter()
    async with app.sessions() as session, session.begin():
        await publish(
            session,
            app.settings,
            app.dispatcher.translations,
            key,
            [(i, message) for i in ids],
            utcnow(),
        )
    return time.perf_counter() - started


def max_in_window(times: list[float], window: float = 1.0) -> int:
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def bench_broadcast(app: App, recipients: int, speed: float) -> None:
    limit = TELEGRAM_RATE * speed
    ids = await add_members(app, recipients, "paced")
    written = await broadcast(app, ids, "bench:paced")
    print(f"outbox: {recipients} rows written in {written:.2f} s")
    channel = NoopChannel()
    app.messenger.attach(channel)
    sender = Sender(app, {"noop": Pacer(limit)})
    started = time.perf_counter()
    await sender.send_all()
    elapsed = time.perf_counter() - started
    times = channel.times
    rate = (len(times) - 1) / (times[-1] - times[0])
    print(
        f"paced at {limit:.0f}/s ({TELEGRAM_RATE:.0f}/s x {speed}): "
        f"{len(times)} sent in {elapsed:.1f} s; "
        f"achieved {rate / limit:.3f} of the limit (target >= 0.95); "
        f"busiest one-second window {max_in_window(times) / limit:.3f} of the limit "
        "(must be <= 1.0)"
    )
    unpaced_ids = await add_members(app, min(2000, recipients), "free")
    await broadcast(app, unpaced_ids, "bench:free")
    channel.times.clear()
    sender = Sender(app, {"noop": Pacer(0)})
    started = time.perf_counter()
    await sender.send_all()
    elapsed = time.perf_counter() - started
    print(
        f"sender overhead: {elapsed / len(channel.times) * 1000:.2f} ms per message "
        f"({len(channel.times) / elapsed:.0f} msg/s unpaced)"
    )


def rss_mb() -> float:
    """The process's resident memory now (not its high-water mark, which an earlier part
    of the run may have set and would hide what this part takes)."""
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * resource.getpagesize() / 2**20


async def bench_reminders(settings: Settings, count: int) -> None:
    jobs = Jobs(settings)
    when = utcnow() + timedelta(days=30)
    started = time.perf_counter()
    chunk = 5000
    for start in range(0, count, chunk):
        await jobs.apply(
            [
                ("notice_deadline", n, when + timedelta(seconds=n % 3600))
                for n in range(start, min(count, start + chunk))
            ],
            [],
        )
    scheduled = time.perf_counter() - started
    jobs.shutdown()
    each = scheduled / count * 1000
    print(f"reminders: {count} jobs scheduled in {scheduled:.1f} s ({each:.2f} ms each)")
    gc.collect()
    before = rss_mb()
    fresh = Jobs(settings)
    started = time.perf_counter()
    fresh.lead()
    fresh.scheduler._process_jobs()  # what the first wakeup does: due jobs, next run time
    start_time = time.perf_counter() - started
    after = rss_mb()
    print(
        f"scheduler start with {count} jobs stored: {start_time * 1000:.0f} ms; "
        f"resident memory {after:.0f} MB (+{after - before:.0f} MB for the loaded scheduler)"
    )
    fresh.shutdown()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--speed", type=float, default=5.0)
    parser.add_argument("--reminders", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    if args.postgres:
        import psycopg
        from sqlalchemy.engine import make_url

        server = make_url(POSTGRES)
        name = f"unionbot_bench_{uuid.uuid4().hex[:8]}"
        admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        url = server.set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    settings = Settings(database_url=url, quiet_hours="", _env_file=None)  # type: ignore[call-arg]
    app = build_app(settings)
    try:
        await upgrade(app.engine)
        print(f"database: {url.split('@')[-1]}")
        if args.recipients:
            await bench_broadcast(app, args.recipients, args.speed)
        if args.reminders:
            await bench_reminders(settings, args.reminders)
    finally:
        await app.close()
        if args.postgres:
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
