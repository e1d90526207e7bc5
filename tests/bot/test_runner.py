"""Running channels: the health check, no channel configured, and queued messages drained
once even by two processes at a time."""

from __future__ import annotations

import asyncio

import httpx
from starlette.routing import BaseRoute

from bot.app import App
from bot.messages import Incoming, Outgoing
from storage import members
from tests.test_cli import unionbot
from unionbot.app import build_app
from unionbot.web import create_web_app


class Recorder:
    """A channel that keeps what it was asked to send."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[tuple[str, str]] = []

    async def send(self, external_id: str, message: Outgoing) -> None:
        self.sent.append((external_id, message.text))

    async def start(self, *, webhook: bool) -> None:
        pass

    async def stop(self) -> None:
        pass

    def routes(self) -> list[BaseRoute]:
        return []


async def test_healthz_says_only_ok(app: App) -> None:
    web = create_web_app(app, [Recorder("telegram")])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(web), base_url="http://bot"
    ) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_healthz_fails_when_the_database_is_gone(app: App) -> None:
    missing = "postgresql+asyncpg://postgres@127.0.0.1:9/nowhere"
    broken = build_app(app.settings.model_copy(update={"database_url": missing}))
    web = create_web_app(broken, [])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(web), base_url="http://bot"
    ) as client:
        response = await client.get("/healthz")
    await broken.close()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}, "no host, user or SQL error shown"


def test_run_without_any_channel_says_what_to_set(tmp_path: object) -> None:
    result = unionbot("run", env={"UNIONBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"})
    assert result.returncode == 2
    assert b"UNIONBOT_TELEGRAM_TOKEN" in result.stderr


async def test_queued_messages_are_drained_once_by_competing_processes(app: App) -> None:
    for user in ("1", "2", "3"):
        await app.dispatcher.handle(Incoming("telegram", user, user, text="/menu"))
    async with app.sessions() as session:
        ids = [
            member.id
            for ref in ("telegram:1", "telegram:2", "telegram:3")
            if (member := await members.find_member(session, ref)) is not None
        ]
    await app.messenger.deliver(
        [
            (member_id, lambda t, n=n: Outgoing(f"notice {n}"))
            for n in range(20)
            for member_id in ids
        ]
    )
    other = build_app(app.settings)
    first, second = Recorder("telegram"), Recorder("telegram")
    app.messenger.attach(first)
    other.messenger.attach(second)
    counts = await asyncio.gather(
        app.messenger.drain("telegram"), other.messenger.drain("telegram")
    )
    await other.close()
    assert sum(counts) == 60
    delivered = sorted(first.sent + second.sent)
    assert len(delivered) == len(set(delivered)) == 60
    for user in ("1", "2", "3"):
        texts = {text for who, text in first.sent + second.sent if who == user}
        assert texts == {f"notice {n}" for n in range(20)}
