"""Every answer's latency with a 1,000,000-member union on one PostgreSQL, against the same
answers on a nearly empty database.

Run by hand from the repository root: ``python -m bench.scale [--members 1000000]``. Two
fresh PostgreSQL databases (at UNIONBOT_BENCH_POSTGRES_URL, default the local ``test``
server) are migrated and filled with SQL (``INSERT ... SELECT generate_series``):

- full: 1,000 enterprises, 1,000,000 members (each with a console identity; 80 % verified
  in their enterprise; 20 towns), 100,000 singles' profiles, 5,000 events (half of them
  coming, 10 sign-ups each), one bargaining session per enterprise (100 followers, a closed
  ballot, 5 suggestions, 10 closed steps), one broadcast with a delivery per member;
- empty: the same shape with 10 members, 4 profiles, 4 events and 2 enterprises.

Then each answer is timed through the console channel (output discarded), three times,
the two databases interleaved (empty, full, empty, full, ...), and the median is printed
for both with their ratio: a member's /menu, /events and its pages, signing up and
cancelling, /myevents and /notices; a matchmaker's /pairs; an officer's /bg_index,
/broadcasts and a notice's audience question, enterprise search and preview (cancelled
before sending). Then a notice to everyone, confirmed for real: the confirming answer's
time, the leader's expansion of it into one outbox row per member (time, and the
process's resident memory sampled from ``/proc/self/status`` against idle), and a
member's /menu p50 and p99 while it runs against the same before it. Last, the reminder
job store: 100,000 reminders scheduled in bulk (on
PostgreSQL and on SQLite), one thing's reminders cancelled among them, and ``unionbot
jobs`` listing them (time and the process's peak memory). The machine is shared, so the
figures move between runs; the ratios within one run are what to read.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bench.dispatch import Discard, postgres_database
from bot.app import App
from bot.broadcasting import expand_pending
from bot.channels.console import ConsoleChannel
from bot.messages import Incoming
from bot.settings import Settings
from storage.migrate import upgrade
from storage.models import Delivery
from storage.types import utcnow
from unionbot.app import build_app

TOWNS = [
    "坎墩街道", "逍林镇", "新浦镇", "胜山镇", "崇寿镇", "庵东镇", "长河镇", "周巷镇", "横河镇",
    "观海卫镇", "掌起镇", "龙山镇", "附海镇", "桥头镇", "匡堰镇", "宗汉街道", "白沙路街道",
    "浒山街道", "古塘街道", "新安江街道",
]  # fmt: skip
GOAL_SECONDS = 1.0
REPEATS = 3
REMINDERS = 100_000
PROBES = 200


@dataclass(frozen=True)
class Size:
    members: int
    profiles: int
    events: int
    enterprises: int


EMPTY = Size(members=10, profiles=4, events=4, enterprises=2)


def fill(size: Size) -> list[str]:
    """The SQL that builds a union of this size; members 1, 2 and 3 are the officer, the
    matchmaker and a member with a profile (profile 1 is member 3's)."""
    towns = "ARRAY[" + ", ".join(f"'{t}'" for t in TOWNS) + "]"
    m, p, v, e = size.members, size.profiles, size.events, size.enterprises
    return [
        f"""INSERT INTO enterprises (id, name, city, town)
        SELECT g, '宁波企业' || lpad(g::text, 4, '0'), '宁波', ({towns})[1 + g % 20]
        FROM generate_series(1, {e}) g""",
        f"""INSERT INTO members (id, display_name, language, town, enterprise_id,
            enterprise_status, created_at)
        SELECT g, 'm' || g, CASE WHEN g % 10 = 0 THEN 'en' ELSE 'zh_CN' END,
            ({towns})[1 + g % 20], 1 + g % {e},
            CASE WHEN g % 5 = 0 THEN 'pending' ELSE 'verified' END, now()
        FROM generate_series(1, {m}) g""",
        f"""INSERT INTO identities (member_id, channel, external_id, active, last_seen_at)
        SELECT g, 'console', 'm' || g, true, now() FROM generate_series(1, {m}) g""",
        """INSERT INTO role_grants (member_id, role, scope)
        VALUES (1, 'officer', ''), (2, 'matchmaker', '')""",
        f"""INSERT INTO singles_profiles (member_id, display_name, gender, birth_year, town,
            show_employer, education, occupation, hobbies, intro, seek_age_min, seek_age_max,
            seek_towns, contact, paused, consent_version, consented_at, updated_at)
        SELECT g + 2, 'p' || g, CASE WHEN g % 2 = 1 THEN 'f' ELSE 'm' END, 1980 + g % 23,
            ({towns})[1 + g % 20], false,
            (ARRAY['secondary', 'college', 'bachelor', 'master'])[1 + g % 4], '工程师',
            (ARRAY['["travel", "music"]', '["sports"]', '["reading", "films", "pets"]',
                '[]'])[1 + g % 4]::json,
            '你好', 22 + g % 8, 32 + g % 10,
            CASE WHEN g % 3 = 0 THEN '[]'::json
                ELSE json_build_array(({towns})[1 + (g * 7) % 20]) END,
            'wx_' || g, g % 50 = 0, '2026-11', now(), now()
        FROM generate_series(1, {p}) g""",
        f"""INSERT INTO events (title, description, place, starts_at, ends_at,
            signup_deadline, places_total, profile_required, created_at)
        SELECT '活动' || g, '游戏、茶歇和自我介绍。', '工人文化宫',
            now() + (g - {v // 2}) * interval '3 hours' + interval '2 days',
            now() + (g - {v // 2}) * interval '3 hours' + interval '2 days 2 hours',
            now() + (g - {v // 2}) * interval '3 hours' + interval '1 day',
            20, true, now()
        FROM generate_series(1, {v}) g""",
        f"""INSERT INTO event_signups (event_id, member_id, side, status, queued_at)
        SELECT ev.id, 4 + (ev.id * 10 + k) % {p}, 'all', 'confirmed', now()
        FROM events ev, generate_series(0, 9) k
        WHERE ev.starts_at > now() ON CONFLICT DO NOTHING""",
        f"""INSERT INTO bargaining_sessions (enterprise_id, kind, title, year, code, step,
            step_started_at, created_at)
        SELECT g, 'wage', '工资集体协商', 2026, 'C' || lpad(g::text, 6, '0'), 11, now(), now()
        FROM generate_series(1, {e}) g""",
        f"""INSERT INTO bargaining_followers (session_id, member_id, joined_at)
        SELECT s.id, 1 + (s.enterprise_id + k * {e}) % {m}, now()
        FROM bargaining_sessions s, generate_series(0, 99) k ON CONFLICT DO NOTHING""",
        """INSERT INTO ballots (session_id, kind, max_choices, closes_at, quorum, majority,
            eligible, closed_at, result)
        SELECT id, 'election', 1, now(), '2/3', '1/2', 800, now(), '{"voted": 500}'::json
        FROM bargaining_sessions""",
        """INSERT INTO bargaining_suggestions (session_id, anonymous, text, status, created_at)
        SELECT s.id, false, '建议', (ARRAY['new', 'adopted', 'answered'])[1 + k % 3], now()
        FROM bargaining_sessions s, generate_series(0, 4) k""",
        """INSERT INTO bargaining_transitions (session_id, step, action, on_time, at)
        SELECT s.id, k, 'close', k % 3 > 0, now()
        FROM bargaining_sessions s, generate_series(1, 10) k""",
        """INSERT INTO notices (title, body, audience, audience_value, created_at)
        SELECT '通知' || g, '内容', 'all', '', now() FROM generate_series(1, 12) g""",
        f"""INSERT INTO broadcasts (key, notice_id, urgent, created_at, finished_at, total,
            expanded_to, expanded_at)
        VALUES ('notice:1', 1, false, now(), now(), {m}, {m}, now())""",
        f"""INSERT INTO deliveries (broadcast_id, member_id, status, attempts, priority,
            not_before, body)
        SELECT 1, g, (ARRAY['sent', 'sent', 'sent', 'blocked', 'failed'])[1 + g % 5], 1, 2, now(),
            '{{"text": "通知", "buttons": [], "image": null}}'::json
        FROM generate_series(1, {m}) g""",
        """INSERT INTO broadcast_tallies (broadcast_id, route, status, count)
        SELECT 1, '', status, count(*) FROM deliveries GROUP BY status""",
    ] + [
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        for table in ("enterprises", "members")
    ]


async def build(url: str, size: Size) -> tuple[App, float]:
    settings = Settings(database_url=url, quiet_hours="", _env_file=None)  # type: ignore[call-arg]
    app = build_app(settings)
    await upgrade(app.engine)
    started = time.perf_counter()
    async with app.engine.begin() as connection:
        for statement in fill(size):
            await connection.exec_driver_sql(statement)
    async with app.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.exec_driver_sql("VACUUM ANALYZE")
    return app, time.perf_counter() - started


Step = Callable[[ConsoleChannel], Awaitable[None]]


def say(who: str, action: str | dict[str, Any]) -> Step:
    line = {"as": who, **({"text": action} if isinstance(action, str) else action)}

    async def step(console: ConsoleChannel) -> None:
        await console.handle_line(json.dumps(line, ensure_ascii=False))

    return step


@dataclass(frozen=True)
class Answer:
    label: str
    step: Step
    before: tuple[Step, ...] = ()
    after: tuple[Step, ...] = ()


def coming_event(size: Size) -> int:
    return size.events // 2 + 1


def answers(size: Size) -> list[Answer]:
    event = coming_event(size)
    compose = tuple(
        say("m1", line) for line in ("/notice", "冬季送温暖", "12月5日发放慰问品。", "跳过", "跳过")
    )
    return [
        Answer("member /menu", say("m3", "/menu")),
        Answer("member /events (page 1)", say("m3", "/events")),
        Answer("member /events page 300", say("m3", {"press": "ev:p:300"})),
        Answer(
            "member signs up",
            say("m3", {"press": f"ev:s:{event}"}),
            after=(say("m3", {"press": f"ev:c:{event}"}),),
        ),
        Answer(
            "member cancels",
            say("m3", {"press": f"ev:c:{event}"}),
            before=(say("m3", {"press": f"ev:s:{event}"}),),
        ),
        Answer("member /myevents", say("m3", "/myevents")),
        Answer("member /notices", say("m3", "/notices")),
        Answer("matchmaker /pairs 1", say("m2", "/pairs 1")),
        Answer("officer /bg_index", say("m1", "/bg_index")),
        Answer("officer /bg_index page 25", say("m1", {"press": "bgi:25"})),
        Answer("officer /broadcasts", say("m1", "/broadcasts")),
        Answer(
            "officer: audience question",
            say("m1", "跳过"),
            before=compose,
            after=(say("m1", "/cancel"),),
        ),
        Answer(
            "officer: enterprise search",
            say("m1", "企业0371"),
            before=(*compose, say("m1", "跳过")),
            after=(say("m1", "/cancel"),),
        ),
        Answer(
            "officer: preview, 1 enterprise",
            say("m1", "跳过"),
            before=(*compose, say("m1", "跳过"), say("m1", {"press": "f:c:enterprise:1"})),
            after=(say("m1", "/cancel"),),
        ),
        Answer(
            "officer: preview, everyone",
            say("m1", "跳过"),
            before=(*compose, say("m1", "跳过"), say("m1", {"press": "f:c:all:"})),
            after=(say("m1", "/cancel"),),
        ),
    ]


async def timed(console: ConsoleChannel, answer: Answer) -> float:
    for step in answer.before:
        await step(console)
    started = time.perf_counter()
    await answer.step(console)
    elapsed = time.perf_counter() - started
    for step in answer.after:
        await step(console)
    return elapsed


def rss_mb() -> float:
    """The process's resident memory now (VmRSS), not a high-water mark."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def latencies(app: App, until: asyncio.Event | None) -> list[float]:
    """A member's /menu, again and again (:data:`PROBES` times, or until ``until``), as a
    webhook request has it answered: through the dispatcher, not the console, which would
    also take the console members' outbox rows."""
    found: list[float] = []
    menu = Incoming("console", "m3", "m3", text="/menu")
    while (until is None and len(found) < PROBES) or (until is not None and not until.is_set()):
        started = time.perf_counter()
        await app.dispatcher.handle(menu)
        found.append(time.perf_counter() - started)
    return found


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]


async def notice_to_everyone(app: App, members: int) -> None:
    """Confirm a notice to everyone, then expand it (as the leader does) while a member
    asks for /menu and resident memory is sampled."""
    gc.collect()
    officer = ConsoleChannel(app.dispatcher, "m1", Discard(), json_mode=True)
    idle_latencies = await latencies(app, None)
    for line in ("/notice", "全体会员大会", "12月20日召开。", "跳过", "跳过", "跳过"):
        await say("m1", line)(officer)
    await say("m1", {"press": "f:c:all:"})(officer)
    await say("m1", "跳过")(officer)
    started = time.perf_counter()
    await say("m1", {"press": "f:ok"})(officer)
    confirm = time.perf_counter() - started
    idle = rss_mb()
    done = asyncio.Event()
    peak = idle

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb())
            await asyncio.sleep(0.02)

    async def expand() -> tuple[int, float]:
        started = time.perf_counter()
        try:
            return await expand_pending(app), time.perf_counter() - started
        finally:
            done.set()

    sampling = asyncio.create_task(sample())
    (batches, seconds), busy = await asyncio.gather(expand(), latencies(app, done))
    await sampling
    async with app.sessions() as session:
        written = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.broadcast_id != 1)
        )
    print(
        f"notice to everyone ({members:,} members): confirmed in {confirm * 1000:.0f} ms; "
        f"{written:,} rows written by the leader in {seconds:.1f} s ({batches} batches, "
        f"{(written or 0) / seconds:,.0f} rows/s)"
    )
    print(
        f"resident memory: idle {idle:.0f} MB, peak while expanding {peak:.0f} MB "
        f"(+{peak - idle:.0f} MB; goal within 50 MB)"
    )
    print(
        f"member /menu: idle p50 {statistics.median(idle_latencies) * 1000:.0f} ms, "
        f"p99 {p99(idle_latencies) * 1000:.0f} ms ({len(idle_latencies)} asked); while "
        f"expanding p50 {statistics.median(busy) * 1000:.0f} ms, p99 {p99(busy) * 1000:.0f} ms "
        f"({len(busy)} asked)"
    )


async def reminder_store(app: App) -> tuple[float, float]:
    """Seconds to schedule :data:`REMINDERS` reminders in bulk, and to cancel one thing's."""
    when = utcnow() + timedelta(days=30)
    scheduled = [("event", n, when + timedelta(minutes=n % 600)) for n in range(REMINDERS)]
    started = time.perf_counter()
    await app.jobs.apply(scheduled, [])
    schedule = time.perf_counter() - started
    started = time.perf_counter()
    await app.jobs.cancel_reminders("event", REMINDERS // 2)
    return schedule, time.perf_counter() - started


CHILD = """
import contextlib, io, resource, sys
from unionbot.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    main(["jobs"])
lines = out.getvalue().splitlines()
listed = 0 if lines == ["no scheduled jobs"] else len(lines)
print(listed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def list_jobs(url: str) -> tuple[float, int, float]:
    """``unionbot jobs`` in its own process: seconds, jobs listed, peak memory in MB."""
    env = {**os.environ, "UNIONBOT_DATABASE_URL": url, "UNIONBOT_LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
    )
    elapsed = time.perf_counter() - started
    listed, peak_kb = done.stdout.split()
    return elapsed, int(listed), int(peak_kb) / 1024


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--broadcast-only", action="store_true", help="only the notice to everyone")
    args = parser.parse_args()
    full = Size(
        members=args.members,
        profiles=args.members // 10,
        events=5_000,
        enterprises=1_000,
    )
    empty_db, full_db = await postgres_database(), await postgres_database()
    if empty_db is None or full_db is None:
        return
    try:
        empty, _ = await build(empty_db[0], EMPTY)
        big, seconds = await build(full_db[0], full)
        print(
            f"built {full.members:,} members, {full.profiles:,} profiles, {full.events:,} "
            f"events, {full.enterprises:,} enterprises in {seconds:.0f} s (PostgreSQL)\n"
        )
        consoles = {
            "empty": ConsoleChannel(empty.dispatcher, "m1", Discard(), json_mode=True),
            "full": ConsoleChannel(big.dispatcher, "m1", Discard(), json_mode=True),
        }
        if args.broadcast_only:
            await notice_to_everyone(big, full.members)
            return
        members = f"{full.members:,} members"
        print(f"{'answer':<34} {'empty':>9} {members:>17} {'ratio':>6}  goal < 1 s")
        for answer_empty, answer_full in zip(answers(EMPTY), answers(full), strict=True):
            times: dict[str, list[float]] = {"empty": [], "full": []}
            for _ in range(REPEATS):
                times["empty"].append(await timed(consoles["empty"], answer_empty))
                times["full"].append(await timed(consoles["full"], answer_full))
            small, large = statistics.median(times["empty"]), statistics.median(times["full"])
            verdict = "meets" if large < GOAL_SECONDS else "MISSES"
            print(
                f"{answer_full.label:<34} {small * 1000:6.0f} ms {large * 1000:14.0f} ms "
                f"{large / small:6.1f}  {verdict}"
            )
        print()
        await notice_to_everyone(big, full.members)
        print()
        schedule, cancel = await reminder_store(big)
        print(
            f"PostgreSQL: {REMINDERS:,} reminders scheduled in {schedule:.1f} s "
            f"({schedule / REMINDERS * 1e6:.0f} µs each); one thing's cancelled in "
            f"{cancel * 1000:.0f} ms"
        )
        for name, url in (("nearly empty", empty_db[0]), (f"{REMINDERS:,} jobs", full_db[0])):
            seconds, listed, peak = list_jobs(url)
            print(
                f"unionbot jobs, {name}: {listed:,} listed in {seconds:.1f} s, peak {peak:.0f} MB"
            )
        with tempfile.TemporaryDirectory() as folder:
            sqlite = build_app(
                Settings(database_url=f"sqlite+aiosqlite:///{folder}/bench.db", _env_file=None)  # type: ignore[call-arg]
            )
            await upgrade(sqlite.engine)
            schedule, cancel = await reminder_store(sqlite)
            print(
                f"SQLite: {REMINDERS:,} reminders scheduled in {schedule:.1f} s; one thing's "
                f"cancelled in {cancel * 1000:.0f} ms"
            )
            await sqlite.close()
        await empty.close()
        await big.close()
    finally:
        await empty_db[1]()
        await full_db[1]()


if __name__ == "__main__":
    asyncio.run(main())
