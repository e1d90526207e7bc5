"""``/metrics``: what a Prometheus server scraping ``unionbot serve`` sees after members
write, a handler fails, the outbox fills, the sender sends, a process leads and jobs wait."""

from __future__ import annotations

import asyncio
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from bot.app import App
from bot.background import Background
from bot.messages import Incoming, Outgoing
from bot.router import Route
from bot.scheduler import create_scheduler
from bot.sender import Sender
from storage import broadcasts, members, outbox
from storage.schema import SCHEDULER_TABLE
from storage.types import utcnow
from tests.conftest import Chat
from unionbot.web import create_web_app

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(app: App) -> Samples:
    transport = httpx.ASGITransport(app=create_web_app(app, []))
    async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
        page = await client.get("/metrics")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(page.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_messages_by_channel_and_kind_and_the_reply_latency(app: App, chat: Chat) -> None:
    before = await scrape(app)
    await chat.say("/help")
    await chat.say({"press": "menu"})
    await chat.say("你好")
    after = await scrape(app)
    for kind in ("command", "button", "text"):
        name, labels = "unionbot_messages_total", {"channel": "console", "kind": kind}
        assert value(after, name, **labels) == value(before, name, **labels) + 1
    count = "unionbot_reply_seconds_count"
    assert value(after, count, channel="console") == value(before, count, channel="console") + 3


async def test_a_failing_handler_is_counted(app: App, chat: Chat) -> None:
    async def broken(ctx: object) -> None:
        raise RuntimeError("boom")

    app.dispatcher.commands["help"] = Route(broken, None, False)
    before = value(await scrape(app), "unionbot_handler_failures_total", channel="console")
    assert "抱歉" in await chat.text_of("/help")
    after = value(await scrape(app), "unionbot_handler_failures_total", channel="console")
    assert after == before + 1


async def test_outbox_rows_by_status_channel_and_kind_and_send_outcomes(
    app: App, chat: Chat
) -> None:
    await app.dispatcher.handle(Incoming("telegram", "7", "7", text="/menu"))
    now = utcnow()
    async with app.sessions() as session, session.begin():
        member = await members.find_member(session, "telegram:7")
        assert member is not None
        broadcast = await broadcasts.create_broadcast(session, "metrics:1", None, True, now)
        assert broadcast is not None
        body = {"text": "通知", "buttons": [], "image": None}
        await outbox.add(session, [outbox.Row(member.id, body, now, 2)], broadcast.id)
    waiting = await scrape(app)
    pending = {"status": "pending", "channel": "telegram", "kind": "broadcast"}
    assert value(waiting, "unionbot_outbox_rows", **pending) == 1

    class Telegram:
        name = "telegram"

        async def send(self, external_id: str, message: Outgoing) -> None:
            pass

    app.outbox.attach(Telegram())
    await Sender(app).send_all()
    sent = await scrape(app)
    assert value(sent, "unionbot_outbox_rows", **pending) == 0
    assert value(sent, "unionbot_outbox_rows", status="sent", channel="all", kind="broadcast") == 1
    assert value(sent, "unionbot_sends_total", outcome="sent") == (
        value(waiting, "unionbot_sends_total", outcome="sent") + 1
    )


async def test_the_leader_says_so_and_stops_saying_so(app: App) -> None:
    background = Background(app)
    await background.start()
    try:
        await asyncio.wait_for(background.leadership.leading.wait(), 10)
        assert value(await scrape(app), "unionbot_leader") == 1
    finally:
        await background.stop()
    assert value(await scrape(app), "unionbot_leader") == 0


async def test_scheduler_jobs_due_and_late(app: App) -> None:
    scheduler = create_scheduler(app.settings)
    scheduler.start(paused=True)
    scheduler.shutdown(wait=False)
    now = time.time()
    async with app.engine.begin() as connection:
        for job, at in (("due", now - 5), ("late", now - 3600), ("later", now + 3600)):
            await connection.execute(
                text(f"INSERT INTO {SCHEDULER_TABLE} VALUES (:id, :at, :state)"),
                {"id": job, "at": at, "state": b"x"},
            )
    samples = await scrape(app)
    assert value(samples, "unionbot_scheduler_jobs_due") == 2
    assert value(samples, "unionbot_scheduler_jobs_late") == 1
