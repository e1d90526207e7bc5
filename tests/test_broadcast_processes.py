"""Real processes: a broadcast interrupted by killing the sending process completes after
a restart with no one messaged twice and no one skipped; of two processes on one database
only the leader sends, and when it is killed the other takes over."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import threading
import time
from typing import Any

from sqlalchemy import func, select

from bot.broadcasting import publish
from bot.i18n import Translator
from bot.messages import Outgoing
from bot.settings import Settings
from storage import members
from storage.models import Delivery, DeliveryStatus
from storage.types import utcnow
from tests.test_cli import UNIONBOT
from unionbot.app import build_app

RECIPIENTS = 40
ENV = {
    "UNIONBOT_QUIET_HOURS": "",
    "UNIONBOT_CONSOLE_RATE": "10",
    "UNIONBOT_LEADER_CHECK_SECONDS": "0.3",
    "UNIONBOT_SENDER_POLL_SECONDS": "0.2",
}


class Process:
    """``unionbot chat --as NAME --json`` kept running, its output read as it comes."""

    def __init__(self, url: str, name: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("UNIONBOT_")}
        env.update(ENV, UNIONBOT_DATABASE_URL=url)
        self.process = subprocess.Popen(
            [UNIONBOT, "chat", "--as", name, "--json"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read_out(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.messages.put(json.loads(line))

    def _read_err(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line.decode())

    def leads(self) -> bool:
        return any("is the leader" in line for line in self.log)

    def wait_until(self, condition: Any, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert self.process.poll() is None, "".join(self.log)
            assert time.monotonic() < deadline, "".join(self.log[-20:])
            time.sleep(0.05)

    def take(self, count: int, seconds: float = 30) -> list[str]:
        return [self.messages.get(timeout=seconds)["to"] for _ in range(count)]

    def rest(self) -> list[str]:
        found = []
        while True:
            try:
                found.append(self.messages.get(timeout=0.5)["to"])
            except queue.Empty:
                return found

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def finish(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=30)


def notice(t: Translator) -> Outgoing:
    return Outgoing(t("menu.title"))


async def write_broadcast(url: str) -> None:
    app = build_app(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    try:
        async with app.sessions() as session, session.begin():
            ids = []
            for n in range(RECIPIENTS):
                _, member = await members.create_member(
                    session, "console", f"w{n:02}", f"w{n:02}", "zh_CN"
                )
                ids.append(member.id)
            await publish(
                session,
                app.settings,
                app.dispatcher.translations,
                "test:kill",
                [(member_id, notice) for member_id in ids],
                utcnow(),
            )
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


def settled(url: str) -> bool:
    counts = asyncio.run(outcome(url))
    return not counts.get(DeliveryStatus.PENDING) and not counts.get(DeliveryStatus.SENDING)


def test_a_killed_broadcast_finishes_after_a_restart_without_duplicates(
    database_url: str,
) -> None:
    first = Process(database_url, "observer")
    first.wait_until(first.leads)
    asyncio.run(write_broadcast(database_url))
    received = first.take(10)
    time.sleep(0.03)  # between two paced sends, as a crash usually is
    first.kill()
    received += first.rest()
    assert len(received) < RECIPIENTS

    again = Process(database_url, "observer")
    again.wait_until(again.leads)
    again.wait_until(lambda: settled(database_url))
    assert again.finish() == 0
    received += [to for to in again.rest() if to != "observer"]
    assert sorted(received) == [f"w{n:02}" for n in range(RECIPIENTS)]
    assert asyncio.run(outcome(database_url)) == {"sent": RECIPIENTS}


def test_only_the_leader_sends_and_another_takes_over_when_it_dies(database_url: str) -> None:
    leader = Process(database_url, "one")
    leader.wait_until(leader.leads)
    follower = Process(database_url, "two")
    time.sleep(1.5)  # several leadership checks
    assert not follower.leads()
    asyncio.run(write_broadcast(database_url))
    received = leader.take(5)
    time.sleep(0.03)
    leader.kill()
    received += leader.rest()
    follower.wait_until(follower.leads)
    follower.wait_until(lambda: settled(database_url))
    assert follower.finish() == 0
    received += [to for to in follower.rest() if to != "two"]
    assert sorted(received) == [f"w{n:02}" for n in range(RECIPIENTS)]
    assert asyncio.run(outcome(database_url)) == {"sent": RECIPIENTS}
