"""Fixtures: every storage and flow test runs on SQLite and on PostgreSQL.

PostgreSQL is reached at ``UNIONBOT_TEST_POSTGRES_URL`` (default: the local server's
``test`` database as user postgres). Where it is not reachable those tests skip, saying why;
with ``UNIONBOT_REQUIRE_POSTGRES=1`` (set by CI) they fail instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bot.app import App
from bot.channels.console import ConsoleChannel
from bot.dispatcher import Dispatcher
from bot.router import Router
from bot.settings import Settings
from storage.db import create_engine
from storage.migrate import upgrade
from storage.schema import SCHEDULER_TABLE, metadata
from tests.channels.fake_telegram import FakeTelegram
from unionbot.app import build_app, service_routers

POSTGRES_URL = os.environ.get(
    "UNIONBOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("UNIONBOT_REQUIRE_POSTGRES") == "1"


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies, so migrations run once per session."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    import psycopg

    server = make_url(POSTGRES_URL)
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"unionbot_test_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        reason = f"PostgreSQL not reachable at {server.host}:{server.port}: {error}".strip()
        if REQUIRE_POSTGRES:
            pytest.fail(reason)
        pytest.skip(reason)
    url = server.set(database=name).render_as_string(hide_password=False)
    asyncio.run(_migrate(url))
    yield url
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _empty_postgres(url: str) -> None:
    import psycopg

    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        connection.execute(f"DROP TABLE IF EXISTS {SCHEDULER_TABLE}")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database: a SQLite file, or the session's PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "unionbot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    _empty_postgres(url)
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Keys and media under the test's own directory; code without settings at hand (seed
    loaders hashing ID numbers) reads the key directory from the environment. No quiet
    hours, so what a handler sends another member arrives whatever the hour of the test
    run; the tests of quiet hours set their own."""
    monkeypatch.setenv("UNIONBOT_KEY_DIR", str(tmp_path / "keys"))
    return Settings(  # type: ignore[call-arg]
        database_url=database_url,
        key_dir=tmp_path / "keys",
        media_dir=tmp_path / "media",
        quiet_hours="",
        _env_file=None,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[App]:
    application = build_app(settings)
    yield application
    await application.close()


def with_routers(app: App, *routers: Router, first: bool = False) -> Dispatcher:
    """Make ``app``'s dispatcher serve the services and ``routers``, as ``build_app`` would;
    ``first`` puts them before the services, so their commands and buttons win."""
    services = service_routers()
    app.dispatcher = Dispatcher(
        app.settings,
        app.sessions,
        app.dispatcher.translations,
        app.outbox,
        [*routers, *services] if first else [*services, *routers],
        app.jobs,
    )
    return app.dispatcher


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """The fake Telegram Bot API server, over real local HTTP."""
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


class Chat:
    """Drives the console channel in-process, as ``unionbot chat --json`` would."""

    def __init__(self, app: App, name: str, language: str | None = None) -> None:
        self.out = StringIO()
        self.channel = ConsoleChannel(app.dispatcher, name, self.out, True, language)

    async def start(self) -> list[dict[str, Any]]:
        await self.channel.start()
        return self._take()

    async def say(self, line: str | dict[str, Any] | bytes) -> list[dict[str, Any]]:
        """Send one stdin line; returns every message the bot printed for it."""
        if isinstance(line, dict):
            line = json.dumps(line, ensure_ascii=False)
        await self.channel.handle_line(line)
        return self._take()

    async def text_of(self, line: str | dict[str, Any]) -> str:
        """The text of the bot's messages for one line, joined."""
        return "\n".join(m["text"] for m in await self.say(line))

    def _take(self) -> list[dict[str, Any]]:
        lines = self.out.getvalue().splitlines()
        self.out.seek(0)
        self.out.truncate()
        return [json.loads(line) for line in lines]


@pytest.fixture
def chat(app: App) -> Chat:
    return Chat(app, "xiaoming")


def payloads(message: dict[str, Any]) -> list[str]:
    return [b["payload"] for row in message["buttons"] for b in row if "payload" in b]
