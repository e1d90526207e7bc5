"""Telegram webhook latency under load through real ``unionbot serve`` processes.

Run by hand: ``python bench/webhooks.py [--database sqlite|postgresql] [--workers 1,2,3]
[--rates 30,60,90,120,150] [--members 100] [--messages 20]``. It starts the Bot API
stand-in (``tests/channels/fake_telegram.py``) in this process, makes a fresh database
(SQLite in a temporary file, or PostgreSQL at UNIONBOT_BENCH_POSTGRES_URL as in
``bench/dispatch.py``), upgrades it with ``unionbot db upgrade`` and starts ``unionbot
serve`` (uvicorn, real HTTP on loopback) once per worker. Then, for each offered rate, the
members send their messages over HTTP: message ``j`` of member ``m`` is due at
``(j * members + m) / rate`` seconds, each member's in order (the next waits for the
previous answer, as a member does), spread over the workers by member (any worker serves
webhooks; only the leader sends to others). Each message goes through the whole path:
secret check, PTB's parsing, the dispatcher and the reply to the stand-in's
``sendMessage``. A member's messages cycle through opening the details form, answering,
leaving it, ``/help`` and the menu (writes and read-only messages).

For each rate it prints the achieved rate, p50/p95/p99 of the time from a message being due
to its answer (waiting included), the workers' CPU per message and this process's (the
members' HTTP client and the Bot API stand-in, which share the machine with the workers);
the knee is the highest rate whose p99 stays under a second with at least 95 % of the
offered rate achieved. ``--against PATH`` runs another install's ``unionbot`` (another
version) side by side on a database of its own, loaded at the same time by members of its
own: on a shared machine, runs one after another differ more than two versions do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dispatch import postgres_database
from tests.channels.fake_telegram import TOKEN, FakeTelegram

SECRET = "bench-secret"
SCRIPT = ("/me", "李四光", "取消", "/help", "/menu")
"""What each member sends, in turn: a form opened, answered and left, then two reads."""
KNEE_P99 = 1.0
UNIONBOT = str(Path(sys.executable).with_name("unionbot"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def servers(
    url: str, fake: FakeTelegram, workers: int, unionbot: str = UNIONBOT
) -> AsyncIterator[tuple[list[str], list[int]]]:
    """``workers`` ``unionbot serve`` processes on one database; yields their base URLs
    and process ids."""
    env = {
        **os.environ,
        "UNIONBOT_DATABASE_URL": url,
        "UNIONBOT_TELEGRAM_TOKEN": TOKEN,
        "UNIONBOT_TELEGRAM_API_URL": fake.url,
        "UNIONBOT_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "UNIONBOT_QUIET_HOURS": "",
    }
    folder = tempfile.mkdtemp(prefix="unionbot-webhooks-")
    upgrade = await asyncio.create_subprocess_exec(unionbot, "db", "upgrade", env=env, cwd=folder)
    if await upgrade.wait() != 0:
        raise RuntimeError("unionbot db upgrade failed")
    ports = [free_port() for _ in range(workers)]
    log = await asyncio.to_thread(open, Path(folder) / "serve.log", "ab")
    print(f"serve logs: {folder}/serve.log", flush=True)
    processes = [
        await asyncio.create_subprocess_exec(
            unionbot,
            "serve",
            "--port",
            str(port),
            env=env,
            cwd=folder,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        async with httpx.AsyncClient() as client:
            for base in urls:
                for _ in range(300):
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(base + "/healthz")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError(f"serve at {base} did not start")
        yield urls, [process.pid for process in processes]
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await asyncio.wait_for(process.wait(), 30)
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
        log.close()


async def load(
    client: httpx.AsyncClient,
    fake: FakeTelegram,
    urls: list[str],
    rate: float,
    members: int,
    messages: int,
    first_user: int,
) -> tuple[list[float], float, int]:
    """Latencies (s) of every message, the achieved rate, and the failed count."""
    latencies: list[float] = []
    failed = 0
    started = time.perf_counter() + 0.2

    async def member(m: int) -> None:
        nonlocal failed
        user = first_user + m
        base = urls[m % len(urls)]
        for j in range(messages):
            due = started + (j * members + m) / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            update = fake.message_update(user, SCRIPT[j % len(SCRIPT)])
            try:
                response = await client.post(
                    base + "/telegram",
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                )
                failed += response.status_code != 200
            except httpx.HTTPError:
                failed += 1
            latencies.append(time.perf_counter() - due)

    await asyncio.gather(*(member(m) for m in range(members)))
    elapsed = time.perf_counter() - started
    return latencies, members * messages / elapsed, failed


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


async def run(database: str, workers: int, rates: list[float], args: Any) -> None:
    fake = FakeTelegram()
    await fake.start()
    installs = {"": UNIONBOT} if not args.against else {"this  ": UNIONBOT, "other ": args.against}
    drops = []
    with tempfile.TemporaryDirectory() as folder:
        deployments = {}
        for number, (side, unionbot) in enumerate(installs.items()):
            if database == "sqlite":
                deployments[side] = (f"sqlite+aiosqlite:///{folder}/bench{number}.db", unionbot)
                continue
            made = await postgres_database()
            if made is None:
                return
            deployments[side] = (made[0], unionbot)
            drops.append(made[1])
        try:
            await measure(deployments, fake, workers, rates, args, database)
        finally:
            for drop in drops:
                await drop()
    await fake.stop()


async def measure(
    deployments: dict[str, tuple[str, str]],
    fake: FakeTelegram,
    workers: int,
    rates: list[float],
    args: Any,
    label: str,
) -> None:
    """Each deployment (database URL, ``unionbot`` executable) under the same load at the
    same time, its members apart, so that other work on the machine hits them alike."""
    knees = dict.fromkeys(deployments, 0.0)
    async with contextlib.AsyncExitStack() as stack:
        started = {
            side: await stack.enter_async_context(servers(url, fake, workers, unionbot))
            for side, (url, unionbot) in deployments.items()
        }
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                limits=httpx.Limits(max_connections=len(started) * args.members + 10),
                timeout=60,
            )
        )
        await asyncio.gather(  # warm up
            *(load(client, fake, urls, 50, 20, 5, 1_000_000) for urls, _ in started.values())
        )
        for n, rate in enumerate(rates):
            cpu = {
                side: sum(cpu_seconds(pid) for pid in pids) for side, (_, pids) in started.items()
            }
            own = time.process_time()
            results = await asyncio.gather(
                *(
                    load(
                        client,
                        fake,
                        urls,
                        rate,
                        args.members,
                        args.messages,
                        10_000 * (n + 1) + 5_000 * k,
                    )
                    for k, (urls, _) in enumerate(started.values())
                )
            )
            own = (time.process_time() - own) / sum(len(latencies) for latencies, _, _ in results)
            for (side, (_, pids)), (latencies, achieved, failed) in zip(
                started.items(), results, strict=True
            ):
                used = sum(cpu_seconds(pid) for pid in pids) - cpu[side]
                count = len(latencies)
                p50, p95, p99 = (percentile(latencies, s) for s in (0.50, 0.95, 0.99))
                if p99 < KNEE_P99 and achieved >= 0.95 * rate and not failed:
                    knees[side] = rate
                print(
                    f"{side}{label:<10} workers {workers}  offered {rate:5.0f}/s"
                    f"  achieved {achieved:5.1f}/s  p50 {p50 * 1000:6.0f} ms"
                    f"  p95 {p95 * 1000:6.0f} ms  p99 {p99 * 1000:6.0f} ms"
                    f"  serve CPU {used / count * 1000:4.1f} ms/msg"
                    f"  (this load and Bot API stand-in {own * 1000:4.1f})"
                    + (f"  failed {failed}" if failed else ""),
                    flush=True,
                )
    for side, knee in knees.items():
        print(
            f"{side}{label:<10} workers {workers}  knee: {knee:.0f} msg/s (p99 < 1 s)", flush=True
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", default="1", help="comma-separated, e.g. 1,2,3")
    parser.add_argument("--rates", default="30,60,90,120,150")
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument(
        "--against",
        help="another install's unionbot executable, run side by side on its own database "
        "under the same load (to compare two versions on a shared machine)",
    )
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    for workers in (int(w) for w in args.workers.split(",")):
        await run(args.database, workers, rates, args)


if __name__ == "__main__":
    asyncio.run(main())
