"""Sign-ups per second when many members rush one event at once, and proof it never overbooks.

Run by hand: ``python bench/signups.py [--members 400] [--apps 4] [--places 50]``. For each
database (SQLite in a temporary file; PostgreSQL at UNIONBOT_BENCH_POSTGRES_URL, skipped if
unreachable) it creates members with profiles and one event, then sends every member's
"sign up" button press at the same moment through several App instances (as several
processes would), and reports the rate and the places given: exactly ``--places``
confirmed, the rest on the waitlist, because each sign-up locks the event row.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dispatch import bench_databases
from bot.app import App
from bot.messages import Incoming
from bot.settings import Settings
from storage import members
from storage.migrate import upgrade
from storage.models.events import Event, SignUp, SignUpStatus
from storage.models.singles import Profile
from storage.types import utcnow
from unionbot.app import build_app


async def prepare(app: App, people: int, places: int) -> int:
    now = utcnow()
    async with app.sessions() as session, session.begin():
        event = Event(
            title="青荷对对·潮韵新安 压力测试",
            description="bench",
            place="建德市工人文化宫（寿昌宫）",
            starts_at=now + timedelta(days=10),
            ends_at=now + timedelta(days=10, hours=3),
            signup_deadline=now + timedelta(days=9),
            places_total=places,
        )
        session.add(event)
        for n in range(people):
            _, member = await members.create_member(session, "console", f"b{n}", f"b{n}", "zh_CN")
            session.add(
                Profile(
                    member_id=member.id,
                    display_name=f"b{n}",
                    gender="fm"[n % 2],
                    birth_year=1995,
                    town="建德",
                    education="bachelor",
                    occupation="工人",
                    hobbies=["music"],
                    intro="bench bench",
                    seek_age_min=20,
                    seek_age_max=40,
                    seek_towns=[],
                    contact="13800000000",
                    consent_version="bench",
                    consented_at=now,
                )
            )
        await session.flush()
        return event.id


async def rush(url: str, people: int, apps_count: int, places: int) -> tuple[float, int, int]:
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    apps = [build_app(settings) for _ in range(apps_count)]
    try:
        await upgrade(apps[0].engine)
        event = await prepare(apps[0], people, places)
        started = time.perf_counter()
        await asyncio.gather(
            *(
                apps[n % apps_count].dispatcher.handle(
                    Incoming("console", f"b{n}", f"b{n}", payload=f"ev:s:{event}")
                )
                for n in range(people)
            )
        )
        elapsed = time.perf_counter() - started
        async with apps[0].sessions() as session:
            confirmed = await session.scalar(
                select(func.count()).where(SignUp.status == SignUpStatus.CONFIRMED)
            )
            waiting = await session.scalar(
                select(func.count()).where(SignUp.status == SignUpStatus.WAITLIST)
            )
        return people / elapsed, confirmed or 0, waiting or 0
    finally:
        for app in apps:
            await app.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=400)
    parser.add_argument("--apps", type=int, default=4)
    parser.add_argument("--places", type=int, default=50)
    args = parser.parse_args()
    async with bench_databases() as databases:
        for label, url in databases:
            rate, confirmed, waiting = await rush(url, args.members, args.apps, args.places)
            verdict = "no overbooking" if confirmed == args.places else "OVERBOOKED"
            print(
                f"{label:<10} {rate:6.0f} sign-ups/s   {confirmed} confirmed, "
                f"{waiting} waiting for {args.places} places ({verdict})"
            )


if __name__ == "__main__":
    asyncio.run(main())
