"""A notice to 100,000 WeChat followers: API calls made, time to hand over, members by route.

Run by hand: ``python bench/wechat.py [--members 100000] [--spent 0.10] [--active 0.06]``.
For SQLite (a temporary file) and PostgreSQL (UNIONBOT_BENCH_POSTGRES_URL, as in
bench/dispatch.py) it fills the database with followers on WeChat: a share ``--spent`` has
had its 4 mass sends this month, and of those a share ``--active`` of all wrote an hour
ago (inside the customer-service window); the rest last wrote three days ago. One notice
to everyone is written to the outbox, then handed over through the real WeChat channel to
the fake WeChat API (tests/wechat_support.py), served over real HTTP on a loopback port:
the bulk step (mass sends, 10,000 followers a call), then the per-member sends for the
rest, unpaced (in production they go at ``UNIONBOT_WECHAT_RATE``, 20 a second), then the
fake posts each mass send's ``MASSSENDJOBFINISH`` event to the bot's webhook. The
webhook benchmark is bench/wechat_webhook.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dispatch import bench_databases
from bot.broadcasting import expand_pending
from bot.channels.wechat import WeChatChannel
from bot.pacing import Pacer
from bot.sender import Sender
from bot.settings import Settings
from handlers.notices import send_notice
from storage import wechat_mass, wechat_quota
from storage.migrate import upgrade
from storage.models import Delivery, Identity, Member, Notice
from storage.models.wechat_quota import WechatQuota
from storage.types import utcnow
from tests.wechat_support import FakeWeChat, served, wechat_settings
from unionbot.app import build_app
from unionbot.web import create_web_app

CHUNK = 5000
ENGLISH_EVERY = 20
"""One follower in 20 reads English: two languages, so at least two mass-send batches."""


@dataclass
class Figures:
    members: int
    write: float
    bulk: float
    per_member: float
    finish: float
    calls: dict[str, int]
    routes: dict[str, int]
    reconciled: wechat_mass.Reconciled | None


async def populate(app: Any, fake: FakeWeChat, members: int, spent: float, active: float) -> None:
    now = utcnow()
    month = wechat_quota.month_of(now)
    spent_below = int(members * spent)
    active_below = int(members * active)
    async with app.sessions() as session, session.begin():
        for start in range(1, members + 1, CHUNK):
            ids = range(start, min(start + CHUNK, members + 1))
            await session.execute(
                insert(Member),
                [
                    {
                        "id": n,
                        "display_name": f"w{n}",
                        "language": "en" if n % ENGLISH_EVERY == 0 else "zh_CN",
                        "created_at": now,
                    }
                    for n in ids
                ],
            )
            await session.execute(
                insert(Identity),
                [
                    {
                        "id": n,
                        "member_id": n,
                        "channel": "wechat",
                        "external_id": f"o-{n:07d}",
                        "active": True,
                        "last_seen_at": now
                        - (timedelta(hours=1) if n <= active_below else timedelta(days=3)),
                    }
                    for n in ids
                ],
            )
            quotas = [
                {"identity_id": n, "mass_month": month, "mass_used": 4}
                for n in ids
                if n <= spent_below
            ]
            if quotas:
                await session.execute(insert(WechatQuota), quotas)
    fake_month = fake.mass.month()
    for n in range(1, spent_below + 1):
        fake.mass.received[(f"o-{n:07d}", fake_month)] = 4


async def measure(url: str, members: int, spent: float, active: float) -> Figures:
    fake = FakeWeChat()
    base = Settings(database_url=url, quiet_hours="", _env_file=None)  # type: ignore[call-arg]
    async with served(fake.app()) as api_url:
        app = build_app(wechat_settings(base, api_url))
        await upgrade(app.engine)
        channel = WeChatChannel(app)
        app.outbox.attach(channel)
        async with served(create_web_app(app, [channel])) as webhook:
            fake.mass.webhook = webhook
            await populate(app, fake, members, spent, active)
            now = utcnow()
            started = time.perf_counter()
            async with app.sessions() as session, session.begin():
                notice = Notice(
                    title="县总工会职工疗休养报名",
                    body="2027年职工疗休养即日起报名，名额有限，请向本单位工会报名。",
                    link="https://example.org/rest",
                    audience="all",
                )
                session.add(notice)
                await session.flush()
                await send_notice(session, app, notice, now)
            await expand_pending(app, clock=lambda: now)  # the leader writes its rows
            write = time.perf_counter() - started
            started = time.perf_counter()
            await channel.send_bulk(now)
            bulk = time.perf_counter() - started
            started = time.perf_counter()
            await Sender(app, {"wechat": Pacer(0)}).send_all()
            per_member = time.perf_counter() - started
            started = time.perf_counter()
            await fake.mass.finish_jobs()
            finish = time.perf_counter() - started
            async with app.sessions() as session:
                routes = {
                    str(route or ""): int(n)
                    for route, n in await session.execute(
                        select(Delivery.route, func.count()).group_by(Delivery.route)
                    )
                }
                broadcast_id = await session.scalar(select(Delivery.broadcast_id).limit(1))
                assert broadcast_id is not None
                reconciled = (await wechat_mass.reconciled(session, [broadcast_id])).get(
                    broadcast_id
                )
        await channel.stop()
        await app.close()
    calls = {
        "message/mass/send": len(fake.mass.calls),
        "message/custom/send": len(fake.sent)
        + sum(1 for endpoint, _, _ in fake.refused_calls if endpoint == "custom"),
        "message/template/send": len(fake.templates)
        + sum(1 for endpoint, _, _ in fake.refused_calls if endpoint == "template"),
        "token": len(fake.tokens_issued),
    }
    return Figures(members, write, bulk, per_member, finish, calls, routes, reconciled)


def report(label: str, figures: Figures) -> None:
    n = figures.members
    print(f"\n{label}: {n:,} WeChat followers, one notice")
    print(f"  written to the outbox        {figures.write:7.1f} s")
    print(f"  bulk step (mass sends)       {figures.bulk:7.1f} s")
    print(f"  per-member sends, unpaced    {figures.per_member:7.1f} s")
    print(f"  finish events reconciled     {figures.finish:7.1f} s")
    print("  API calls: " + ", ".join(f"{k} {v:,}" for k, v in figures.calls.items()))
    mass_calls = figures.calls["message/mass/send"]
    print(f"  mass sends per 100,000 members: {mass_calls * 100_000 / n:.1f}")
    print("  members by route:")
    for route, count in sorted(figures.routes.items(), key=lambda item: -item[1]):
        print(f"    {route or '(not recorded)':<18} {count:>8,}  {100 * count / n:5.1f} %")
    if figures.reconciled is not None:
        r = figures.reconciled
        print(
            f"  WeChat reported: {r.batches} mass sends, {r.sent:,} sent, "
            f"{r.filtered_out:,} filtered, {r.errors:,} errors, {r.pending} unreported"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--spent", type=float, default=0.10)
    parser.add_argument("--active", type=float, default=0.06)
    args = parser.parse_args()
    async with bench_databases() as databases:
        for label, url in databases:
            report(label, await measure(url, args.members, args.spent, args.active))


if __name__ == "__main__":
    asyncio.run(main())
