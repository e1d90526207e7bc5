"""Sending at the platforms' rates end to end, and reminder scheduling at scale.

Run by hand: ``python bench/broadcast.py [--telegram 1500] [--wechat 1000] [--speed 1]
[--latency 0,0.1] [--rounds 3] [--reminders 100000] [--postgres]``, on SQLite in a
temporary file (``--postgres``: the local PostgreSQL ``test`` server).

1. A reminder to ``--telegram`` members on Telegram and ``--wechat`` on WeChat goes out
   through ``unionbot run``'s own wiring: the configured channels (PTB's Bot; the WeChat
   channel with its quota ledger and numbered options) and the leader's ``Sender`` with
   its pacers at 30/s and 20/s times ``--speed``, over real local HTTP to the fake Telegram
   Bot API and the fake WeChat API of ``tests/``. Those run in a child process (their work
   is not the bot's; their memory not counted) and answer each request after
   ``--latency`` seconds. The Telegram rows are written first, as when a backlog on one
   channel used to hold up the other. Each latency is run once per round, interleaved.
   Printed, timed at the fake APIs as requests arrive: the achieved rate per channel as a
   fraction of its limit (goal >= 0.95 at 100 ms), the busiest one-second window as a
   fraction of the limit (must never exceed 1.0), when each channel's first message
   arrived, and the bot process's resident memory (now, from /proc, and its peak during
   the run). Medians over the rounds at the end.
   (WeChat broadcasts go by mass send, :mod:`bot.channels.wechat.mass`, measured by
   ``bench/wechat.py``; reminders go per member on both channels.)
2. The sender's own cost per message, unpaced through a channel that does nothing.
3. ``--reminders`` reminder jobs added to APScheduler's SQL job store: time to schedule, the
   scheduler's start time with them all in the store, and the memory it took.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import delete, func, insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the stand-ins are in tests/

from bot.app import App
from bot.delivery import MessageClass
from bot.i18n import Translator
from bot.messages import Outgoing
from bot.pacing import PER_CHAT_GAP_SECONDS, Pacer
from bot.scheduler import Jobs
from bot.sender import Sender
from bot.settings import Settings
from storage.migrate import upgrade
from storage.models import Delivery, DeliveryStatus, Identity, Member
from storage.models.wechat_quota import WechatQuota
from storage.types import utcnow
from tests.channels.fake_telegram import FakeTelegram
from tests.wechat_support import FakeWeChat, served, wechat_settings
from unionbot.app import build_app
from unionbot.channels import configured_channels

TELEGRAM_RATE = 30.0
WECHAT_RATE = 20.0
TELEGRAM_IDS = 700_000_000
"""Telegram chat ids of the benchmark's members start here."""
POSTGRES = os.environ.get(
    "UNIONBOT_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


# --- the fake APIs, in a child process -----------------------------------------------------


class TimedTelegram(FakeTelegram):
    """The fake Bot API, answering after ``latency`` and noting when each send arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.latency = 0.0
        self.arrivals: list[float] = []

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["method"] == "sendMessage":
            self.arrivals.append(time.monotonic())
        if self.latency:
            await asyncio.sleep(self.latency)
        return await super()._api(request)


class TimedWeChat:
    """The fake WeChat API behind an ASGI wrapper that does the same."""

    def __init__(self) -> None:
        self.latency = 0.0
        self.arrivals: list[float] = []
        self._app = FakeWeChat().app()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            if scope["path"].endswith("/message/custom/send"):
                self.arrivals.append(time.monotonic())
            if self.latency:
                await asyncio.sleep(self.latency)
        await self._app(scope, receive, send)


def serve_fakes(connection: Connection) -> None:
    asyncio.run(_serve_fakes(connection))


async def _serve_fakes(connection: Connection) -> None:
    """Answers the parent: ``("latency", seconds)``, ``("arrivals", None)`` (and forget
    them), ``("stop", None)``. CLOCK_MONOTONIC is the same clock in both processes."""
    telegram, wechat = TimedTelegram(), TimedWeChat()
    await telegram.start()
    loop = asyncio.get_running_loop()
    async with served(wechat) as wechat_url:
        connection.send((telegram.url, wechat_url))
        while True:
            command, value = await loop.run_in_executor(None, connection.recv)
            if command == "latency":
                telegram.latency = wechat.latency = value
                connection.send(None)
            elif command == "arrivals":
                connection.send({"telegram": telegram.arrivals, "wechat": wechat.arrivals})
                telegram.arrivals, wechat.arrivals = [], []
            else:
                break
    await telegram.stop()


class Fakes:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self.process = context.Process(target=serve_fakes, args=(child,), daemon=True)
        self.process.start()
        self.telegram_url, self.wechat_url = self._pipe.recv()

    def ask(self, command: str, value: Any = None) -> Any:
        self._pipe.send((command, value))
        return self._pipe.recv() if command != "stop" else None

    def stop(self) -> None:
        self.ask("stop")
        self.process.join(10)


# --- the run ------------------------------------------------------------------------------


def reminder(t: Translator) -> Outgoing:
    return Outgoing(t("menu.title"))


def external_id(channel: str, member_id: int) -> str:
    return str(TELEGRAM_IDS + member_id) if channel == "telegram" else f"{channel}-{member_id}"


async def add_members(app: App, count: int, channel: str, prefix: str) -> list[int]:
    async with app.sessions() as session, session.begin():
        now = utcnow()
        for start in range(0, count, 1000):
            await session.execute(
                insert(Member),
                [
                    {"display_name": f"{prefix}{n}", "language": "zh_CN", "created_at": now}
                    for n in range(start, min(count, start + 1000))
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
                "channel": channel,
                "external_id": external_id(channel, i),
                "active": True,
                "last_seen_at": now,
            }
            for i in ids
        ]
        for start in range(0, len(rows), 1000):
            await session.execute(insert(Identity), rows[start : start + 1000])
    return ids


async def write_reminders(app: App, ids: list[int]) -> None:
    for start in range(0, len(ids), 1000):
        async with app.sessions() as session, session.begin():
            batch = [(i, reminder) for i in ids[start : start + 1000]]
            await app.outbox.write(session, batch, MessageClass.REMINDER, utcnow())


async def fresh_window(app: App) -> None:
    """Every WeChat member wrote just now and has spent none of their window's messages."""
    async with app.sessions() as session, session.begin():
        await session.execute(delete(WechatQuota))
        await session.execute(
            update(Identity).where(Identity.channel == "wechat").values(last_seen_at=utcnow())
        )


async def open_rows(app: App) -> int:
    async with app.sessions() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]))
        )
    return int(found or 0)


def max_in_window(times: list[float], window: float = 1.0) -> int:
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


class TimedPacer(Pacer):
    """The sender's pacer, noting when each slot was taken: as the requests leave."""

    def __init__(self, rate: float) -> None:
        super().__init__(rate, per_chat_gap=PER_CHAT_GAP_SECONDS)
        self.taken: list[float] = []

    async def acquire(self, chat: str) -> None:
        await super().acquire(chat)
        self.taken.append(time.monotonic())


@dataclass
class Channel:
    sent: int
    rate: float
    """Achieved, as a fraction of the limit."""
    busiest: float
    """The busiest one-second window as the API saw it, as a fraction of the limit."""
    busiest_leaving: float
    """The same as the requests left (the slots taken)."""
    first: float
    """Seconds from the sender's start to the first message's arrival."""


@dataclass
class Run:
    latency: float
    seconds: float
    channels: dict[str, Channel]
    resident: float
    peak: float
    cpu: float
    """The bot process's CPU seconds (all its threads) per message."""


def figures(arrivals: list[float], leaving: list[float], limit: float, began: float) -> Channel:
    times = sorted(arrivals)
    if len(times) < 2:
        return Channel(len(times), 0.0, 0.0, 0.0, 0.0)
    rate = (len(times) - 1) / (times[-1] - times[0])
    busiest, left = max_in_window(times) / limit, max_in_window(leaving) / limit
    return Channel(len(times), rate / limit, busiest, left, times[0] - began)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def send_once(
    app: App, fakes: Fakes, telegram: list[int], wechat: list[int], latency: float
) -> Run:
    await fresh_window(app)
    fakes.ask("latency", latency)
    await write_reminders(app, telegram)
    await write_reminders(app, wechat)
    fakes.ask("arrivals")
    gc.collect()
    stop = asyncio.Event()
    limits = {"telegram": app.settings.telegram_rate, "wechat": app.settings.wechat_rate}
    pacers = {name: TimedPacer(limit) for name, limit in limits.items()}
    sender = Sender(app, dict(pacers))
    peak = resident = rss_mb()
    began, cpu = time.monotonic(), cpu_seconds()
    sending = asyncio.create_task(sender.run(stop))
    while await open_rows(app):
        await asyncio.sleep(0.5)
        peak = max(peak, rss_mb())
    seconds = time.monotonic() - began
    stop.set()
    sender.wake()
    await sending
    cpu = (cpu_seconds() - cpu) / max(1, len(telegram) + len(wechat))
    arrivals = fakes.ask("arrivals")
    channels = {
        name: figures(arrivals[name], pacers[name].taken, limits[name], began) for name in limits
    }
    return Run(latency, seconds, channels, resident, peak, cpu)


def show(run: Run) -> None:
    parts = [
        f"{name} {c.sent} sent, rate {c.rate:.3f}, busiest second {c.busiest:.3f} "
        f"({c.busiest_leaving:.3f} leaving), first after {c.first:.2f} s"
        for name, c in run.channels.items()
    ]
    print(
        f"  latency {run.latency * 1000:3.0f} ms: {run.seconds:5.1f} s; "
        + "; ".join(parts)
        + f"; CPU {run.cpu * 1000:.1f} ms a message; resident {run.resident:.0f} MB, "
        f"peak {run.peak:.0f} MB"
    )


async def bench_sending(settings: Settings, args: argparse.Namespace) -> None:
    fakes = Fakes()
    settings = wechat_settings(
        settings,
        fakes.wechat_url,
        telegram_token="123456:TEST-token",
        telegram_api_url=fakes.telegram_url,
        telegram_webhook_secret="bench-secret",
        telegram_rate=TELEGRAM_RATE * args.speed,
        wechat_rate=WECHAT_RATE * args.speed,
    )
    app = build_app(settings)
    channels = configured_channels(app)
    try:
        for channel in channels:
            app.outbox.attach(channel)
            await channel.start(webhook=True)
        telegram = await add_members(app, args.telegram, "telegram", "tg")
        wechat = await add_members(app, args.wechat, "wechat", "wx")
        latencies = [float(x) for x in args.latency.split(",")]
        print(
            f"sending: {len(telegram)} Telegram members at {settings.telegram_rate:.0f}/s, "
            f"{len(wechat)} WeChat members at {settings.wechat_rate:.0f}/s "
            f"(x{args.speed:g}), {args.rounds} rounds"
        )
        runs: dict[float, list[Run]] = {latency: [] for latency in latencies}
        for number in range(args.rounds):
            print(f"round {number + 1}")
            for latency in latencies:
                run = await send_once(app, fakes, telegram, wechat, latency)
                runs[latency].append(run)
                show(run)
        print("medians:")
        for latency, done in runs.items():
            for name in ("telegram", "wechat"):
                rate = statistics.median(r.channels[name].rate for r in done)
                busiest = max(r.channels[name].busiest for r in done)
                leaving = max(r.channels[name].busiest_leaving for r in done)
                first = statistics.median(r.channels[name].first for r in done)
                print(
                    f"  latency {latency * 1000:3.0f} ms {name:<8}: achieved {rate:.3f} of the "
                    f"limit (goal >= 0.95); busiest second at the API {busiest:.3f} of it at "
                    f"most, as they left {leaving:.3f} (must be <= 1.0); first message after "
                    f"{first:.2f} s"
                )
            peak = max(r.peak for r in done)
            idle = statistics.median(r.resident for r in done)
            cpu = statistics.median(r.cpu for r in done) * 1000
            print(
                f"  latency {latency * 1000:3.0f} ms: CPU {cpu:.1f} ms a message (one core: "
                f"{1000 / cpu:.0f} messages/s); resident {idle:.0f} MB, peak {peak:.0f} MB"
            )
    finally:
        for channel in channels:
            await channel.stop()
        await app.close()
        fakes.stop()


class NoopChannel:
    name = "noop"

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, external_id: str, message: Outgoing) -> None:
        self.sent += 1


async def bench_overhead(settings: Settings, count: int) -> None:
    app = build_app(settings)
    try:
        ids = await add_members(app, count, "noop", "free")
        await write_reminders(app, ids)
        channel = NoopChannel()
        app.outbox.attach(channel)
        started = time.perf_counter()
        await Sender(app, {"noop": Pacer(0)}).send_all()
        elapsed = time.perf_counter() - started
        print(
            f"sender overhead: {elapsed / channel.sent * 1000:.2f} ms per message "
            f"({channel.sent / elapsed:.0f} msg/s unpaced, {count} rows)"
        )
    finally:
        await app.close()


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
    parser.add_argument("--telegram", type=int, default=1500)
    parser.add_argument("--wechat", type=int, default=1000)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--latency", default="0,0.1", help="seconds, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--overhead", type=int, default=2000)
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
    migrating = build_app(settings)
    try:
        await upgrade(migrating.engine)
        await migrating.close()
        print(f"database: {url.split('@')[-1]}")
        if args.telegram or args.wechat:
            await bench_sending(settings, args)
        if args.overhead:
            await bench_overhead(settings, args.overhead)
        if args.reminders:
            await bench_reminders(settings, args.reminders)
    finally:
        if args.postgres:
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
