"""Live meeting page under load: many viewers of one meeting on server-sent events.

Run by hand: ``python bench/sse.py [--viewers 500] [--statements 20]``. For each database
(SQLite in a temporary file; PostgreSQL at UNIONBOT_BENCH_POSTGRES_URL, skipped if
unreachable) it starts the web app in a child process (uvicorn, as ``unionbot serve``
does), opens ``--viewers`` event streams of one open meeting with signed session cookies,
then writes ``--statements`` statements to the database half a second apart, as the
process that took the speaker's message would. It reports the time from each statement's
commit to each viewer receiving it: p50 and p99 over all deliveries and over "the last
viewer" of each statement (goal: p99 < 1 s), and the server's memory per viewer (resident
set growth from no viewer to all connected, divided by the viewers).

The viewers run in this process, on the same cores as the server: on a shared 2-core
machine the figures include their cost and move between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dispatch import bench_databases
from bot import web_links
from bot.settings import Settings
from storage import meeting
from storage.memberships import Status
from storage.migrate import upgrade
from storage.models import Member
from storage.models.bargaining import BargainingSession, Follower
from storage.seed import demo_files, import_file
from storage.types import utcnow
from unionbot.app import build_app

GOAL_SECONDS = 1.0


def settings_for(url: str, key_dir: Path) -> Settings:
    return Settings(database_url=url, key_dir=key_dir, _env_file=None)  # type: ignore[call-arg]


async def prepare(settings: Settings, viewers: int) -> tuple[int, list[str]]:
    """A meeting open at step 5 and ``viewers`` followers; their session cookies."""
    app = build_app(settings)
    await upgrade(app.engine)
    now = utcnow()
    async with app.sessions() as session, session.begin():
        for path in demo_files():
            await import_file(session, path)
        bs = BargainingSession(
            enterprise_id=1,
            kind="wage",
            title="压力测试协商",
            year=2027,
            code="SSE234",
            step=5,
            meeting_opened_at=now,
        )
        session.add(bs)
        people = [
            Member(
                display_name=f"围观{n}",
                language="zh_CN",
                enterprise_id=1,
                enterprise_status=Status.VERIFIED,
            )
            for n in range(viewers)
        ]
        session.add_all(people)
        await session.flush()
        session.add_all(Follower(session_id=bs.id, member_id=m.id) for m in people)
    cookies = [web_links.session_token(settings, m.id, now) for m in people]
    await app.close()
    return bs.id, cookies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def resident_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def serve(url: str, key_dir: str, port: int) -> None:
    """The child process: the web app on uvicorn, as ``unionbot serve`` runs it."""
    import uvicorn

    from unionbot.web import create_web_app

    app = build_app(settings_for(url, Path(key_dir)))
    config = uvicorn.Config(
        create_web_app(app, []),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    await uvicorn.Server(config).serve()


async def viewer(
    client: aiohttp.ClientSession,
    url: str,
    cookie: str,
    connected: asyncio.Event,
    count: list[int],
    total: int,
    arrivals: dict[int, list[float]],
) -> None:
    async with client.get(url, headers={"Cookie": f"ub_session={cookie}"}) as response:
        if response.status != 200:
            raise RuntimeError(await response.text())
        event = ""
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("retry:"):
                count[0] += 1
                if count[0] == total:
                    connected.set()
            elif line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == "statement":
                arrivals[json.loads(line[6:])["seq"]].append(time.perf_counter())


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(label: str, url: str, viewers: int, statements: int) -> None:
    with tempfile.TemporaryDirectory() as keys:
        settings = settings_for(url, Path(keys))
        session_id, cookies = await prepare(settings, viewers)
        port = free_port()
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--serve",
            url,
            keys,
            str(port),
            env={**os.environ, "UNIONBOT_LOG_LEVEL": "WARNING"},
        )
        try:
            await measure(label, settings, server.pid, port, session_id, cookies, statements)
        finally:
            server.terminate()
            await server.wait()


async def measure(
    label: str,
    settings: Settings,
    pid: int,
    port: int,
    session_id: int,
    cookies: list[str],
    statements: int,
) -> None:
    base = f"http://127.0.0.1:{port}"
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        for _ in range(100):
            with contextlib.suppress(aiohttp.ClientError):
                async with client.get(f"{base}/w/signin") as answer:
                    if answer.status == 200:
                        break
            await asyncio.sleep(0.1)
        idle = resident_kb(pid)
        connected, count = asyncio.Event(), [0]
        arrivals: dict[int, list[float]] = defaultdict(list)
        started = time.perf_counter()
        streams = [
            asyncio.create_task(
                viewer(
                    client,
                    f"{base}/w/meeting/{session_id}/events",
                    cookie,
                    connected,
                    count,
                    len(cookies),
                    arrivals,
                )
            )
            for cookie in cookies
        ]
        await asyncio.wait_for(connected.wait(), 120)
        connect_seconds = time.perf_counter() - started
        await asyncio.sleep(1)
        watching = resident_kb(pid)

        app = build_app(settings)
        said: dict[int, float] = {}
        async with app.sessions() as session:
            speaker = await session.get(Member, 1)
        assert speaker is not None
        for n in range(statements):
            async with app.sessions() as session, session.begin():
                bs = await session.get(BargainingSession, session_id)
                assert bs is not None
                statement = await meeting.add_statement(
                    session, bs, speaker, "union", "chair", f"第 {n + 1} 点意见", utcnow()
                )
                seq = statement.seq
            said[seq] = time.perf_counter()
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)
        await app.close()
        for stream in streams:
            stream.cancel()
        await asyncio.gather(*streams, return_exceptions=True)

    every = [at - said[seq] for seq, times in arrivals.items() for at in times]
    last = [max(times) - said[seq] for seq, times in arrivals.items()]
    complete = sum(1 for times in arrivals.values() if len(times) == len(cookies))
    p99_last = percentile(last, 0.99)
    print(
        f"{label:<10} {len(cookies)} viewers connected in {connect_seconds:.1f} s; "
        f"{complete}/{statements} statements reached every viewer\n"
        f"{'':<10} statement → viewer   p50 {statistics.median(every) * 1000:6.0f} ms   "
        f"p99 {percentile(every, 0.99) * 1000:6.0f} ms\n"
        f"{'':<10} statement → last one p50 {statistics.median(last) * 1000:6.0f} ms   "
        f"p99 {p99_last * 1000:6.0f} ms "
        f"({'meets' if p99_last < GOAL_SECONDS else 'misses'} the {GOAL_SECONDS:.0f} s goal)\n"
        f"{'':<10} server memory {idle / 1024:.0f} MB idle, {watching / 1024:.0f} MB watching: "
        f"{(watching - idle) / len(cookies):.0f} KB per viewer"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=500)
    parser.add_argument("--statements", type=int, default=20)
    args = parser.parse_args()
    async with bench_databases() as databases:
        for label, url in databases:
            await run(label, url, args.viewers, args.statements)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        asyncio.run(serve(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    else:
        asyncio.run(main())
