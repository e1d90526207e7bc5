"""Votes per second, and how long one meeting statement takes to reach every follower.

Run by hand from the repository root: ``python -m bench.bargaining [--members 500]``. For
each database (SQLite in a temporary file; PostgreSQL at UNIONBOT_BENCH_POSTGRES_URL,
default the local ``test`` server, skipped with a note if unreachable) an enterprise of
``--members`` workers, all following one session, is loaded; then, through the console
channel (output discarded):

- votes: every worker presses a candidate's button in the representative election, each a
  full message (identity, eligibility, register row, paper, receipt reply, one transaction);
- relay: the chair makes 20 statements in the open meeting, each relayed to every follower
  (rendered in each one's language and sent through the console channel).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.dispatch import Discard, bench_databases
from bot.app import App
from bot.channels.console import ConsoleChannel
from bot.settings import Settings
from storage.ballots import open_election
from storage.bargaining import start_session
from storage.migrate import upgrade
from storage.models import Enterprise, Identity, Member, RoleGrant
from storage.models.bargaining import BargainingSession, Follower
from storage.types import utcnow
from unionbot.app import build_app

STATEMENTS = 20


async def load(app: App, workers: int) -> tuple[int, int]:
    """An enterprise, its chair and workers following a session at step 2; the election id."""
    async with app.sessions() as session, session.begin():
        enterprise = Enterprise(name="永康市众诚五金制品有限公司", city="永康")
        session.add(enterprise)
        await session.flush()
        people = [
            Member(
                display_name=f"工人{n}",
                language="zh_CN",
                enterprise_id=enterprise.id,
                enterprise_status="verified",
            )
            for n in range(workers + 1)
        ]
        session.add_all(people)
        session.add_all(
            Identity(member=m, channel="console", external_id=f"w{n}") for n, m in enumerate(people)
        )
        await session.flush()
        session.add(RoleGrant(member_id=people[0].id, role="chair", scope=str(enterprise.id)))
        now = utcnow()
        bs = await start_session(session, enterprise.id, people[0].id, "wage", "2027", 2027, now)
        bs.step = 2
        session.add_all(Follower(session_id=bs.id, member_id=m.id) for m in people[1:])
        ballot = await open_election(
            session,
            bs,
            2,
            now + timedelta(hours=1),
            [m.id for m in people[1:4]],
            now,
            app.settings.key_dir,
        )
        return bs.id, ballot.id


async def measure(url: str, workers: int) -> tuple[float, float]:
    keys = Path(tempfile.mkdtemp(prefix="unionbot-bench-keys-"))
    settings = Settings(database_url=url, key_dir=keys, _env_file=None)  # type: ignore[call-arg]
    app = build_app(settings)
    await upgrade(app.engine)
    session_id, ballot = await load(app, workers)
    console = ConsoleChannel(app.dispatcher, "w0", Discard(), json_mode=True)
    app.messenger.attach(console)
    started = time.perf_counter()
    for n in range(1, workers + 1):
        await console.handle_line(json.dumps({"as": f"w{n}", "press": f"v:{ballot}:1"}))
    votes = workers / (time.perf_counter() - started)
    async with app.sessions() as session, session.begin():
        bs = await session.get(BargainingSession, session_id)
        assert bs is not None
        bs.step, bs.meeting_opened_at = 5, utcnow()
    started = time.perf_counter()
    for n in range(STATEMENTS):
        await console.handle_line(f"第 {n} 点意见")
    relay_ms = (time.perf_counter() - started) / STATEMENTS * 1000
    await app.close()
    return votes, relay_ms


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=500)
    args = parser.parse_args()
    async with bench_databases() as databases:
        for label, url in databases:
            votes, relay_ms = await measure(url, args.members)
            print(
                f"{label}: {votes:.0f} votes/s; one statement to {args.members} followers "
                f"in {relay_ms:.0f} ms ({relay_ms * 1000 / args.members:.0f} µs each)"
            )


if __name__ == "__main__":
    asyncio.run(main())
