"""Messages per second through the whole core, against PTB with one database round trip.

Run by hand: ``python bench/dispatch.py [--messages 2000]``. For each database (SQLite in
a temporary file; PostgreSQL at UNIONBOT_BENCH_POSTGRES_URL, default the local ``test``
server, skipped with a note if unreachable) it measures, in the same run:

- core: console lines through ``ConsoleChannel.handle_line`` with output discarded, each
  one a step of a long form, so every message reads the identity, member and dialog state
  and writes the dialog state in one transaction (every step answers the same field, so
  the stored state stays the size of a real form's, not growing with the run);
- reference: python-telegram-bot's bare ``Application.process_update`` with a handler that
  replies (network replaced by a no-op request) and does one SQLAlchemy async read and one
  write in a transaction, on an engine set up like the core's.

Each of ``--rounds`` rounds (3 by default, each on fresh tables) sets both up and runs them
in turns of ``BLOCK`` messages, reference then core, until each has handled ``--messages``;
the median of each side's rounds is judged: the core must handle at least twice the
reference's messages per second (core / reference >= 2). On a shared, loaded machine runs
one after another swing by tens of percent; turns this short put both sides under the same
load, and the median drops a round that hit a burst.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy import Integer, String, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters
from telegram.request import BaseRequest, RequestData

from bot.app import App
from bot.channels.console import ConsoleChannel
from bot.context import Context
from bot.dialogs import Form, start_form, text_field
from bot.dispatcher import Dispatcher
from bot.router import Router
from bot.settings import Settings
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from unionbot.app import build_app, service_routers

POSTGRES = os.environ.get(
    "UNIONBOT_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
TARGET = 2.0
"""Messages per second the core must reach, as a multiple of the reference's."""
BLOCK = 50
"""Messages each side handles before the other's turn."""


class Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


def long_form(steps: int) -> Router:
    router = Router("bench")

    async def done(ctx: Context, data: dict[str, Any]) -> None:
        ctx.reply("done")

    form = router.form(
        Form("bench", tuple(text_field("town", "me.ask_town") for _ in range(steps)), done)
    )

    @router.command("bench")
    async def begin(ctx: Context) -> None:
        await start_form(ctx, form)

    return router


async def long_form_app(settings: Settings, steps: int) -> App:
    """The bot on a migrated database, its dispatcher also serving :func:`long_form`."""
    app = build_app(settings)
    await upgrade(app.engine)
    app.dispatcher = Dispatcher(
        settings,
        app.sessions,
        app.dispatcher.translations,
        app.outbox,
        [*service_routers(), long_form(steps)],
    )
    return app


class Core:
    """Console lines through ``ConsoleChannel.handle_line``, each a step of a long form."""

    def __init__(self, url: str, steps: int) -> None:
        self.url = url
        self.steps = steps

    async def start(self) -> None:
        settings = Settings(database_url=self.url, _env_file=None)  # type: ignore[call-arg]
        self.app = await long_form_app(settings, self.steps)
        self.console = ConsoleChannel(self.app.dispatcher, "bench", Discard(), json_mode=True)
        await self.console.handle_line("/bench")
        self.sent = 0

    async def run(self, messages: int) -> float:
        """Seconds the next ``messages`` answers take."""
        lines = [
            json.dumps({"text": f"坎墩街道{n}"}, ensure_ascii=False)
            for n in range(self.sent, self.sent + messages)
        ]
        self.sent += messages
        started = time.perf_counter()
        for line in lines:
            await self.console.handle_line(line)
        return time.perf_counter() - started

    async def close(self) -> None:
        await self.app.close()


async def core_rate(url: str, messages: int) -> float:
    core = Core(url, messages + 30)
    await core.start()
    await core.run(20)
    elapsed = await core.run(messages)
    await core.close()
    return messages / elapsed


class Base(DeclarativeBase):
    pass


class Visit(Base):
    __tablename__ = "bench_visits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user: Mapped[str] = mapped_column(String(32), unique=True)
    count: Mapped[int] = mapped_column(Integer)


class NoNetwork(BaseRequest):
    """Answers the Bot API calls PTB makes without leaving the process."""

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, **_: Any
    ) -> tuple[int, bytes]:
        bot = {"id": 1, "is_bot": True, "first_name": "bench", "username": "bench_bot"}
        if url.endswith("getMe"):
            return 200, json.dumps({"ok": True, "result": bot}).encode()
        params = request_data.parameters if request_data else {}
        message = {
            "message_id": 2,
            "date": 0,
            "chat": {"id": params.get("chat_id", 1), "type": "private"},
            "from": bot,
            "text": params.get("text", ""),
        }
        return 200, json.dumps({"ok": True, "result": message}).encode()


def update_json(n: int) -> dict[str, Any]:
    user = {"id": 42, "is_bot": False, "first_name": "工友"}
    return {
        "update_id": n,
        "message": {
            "message_id": n,
            "date": 0,
            "chat": {"id": 42, "type": "private"},
            "from": user,
            "text": f"坎墩街道{n}",
        },
    }


class Reference:
    """python-telegram-bot's ``process_update``, a handler with one ORM read and one write."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def start(self) -> None:
        self.engine: AsyncEngine = create_engine(self.url)
        async with self.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        sessions = session_factory(self.engine)

        async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.effective_user and update.effective_message
            async with sessions() as session, session.begin():
                user = str(update.effective_user.id)
                visit = await session.scalar(select(Visit).where(Visit.user == user))
                if visit is None:
                    session.add(Visit(user=user, count=1))
                else:
                    visit.count += 1
            await update.effective_message.reply_text("收到")

        self.application = Application.builder().token("1:bench").request(NoNetwork()).build()
        self.application.add_handler(MessageHandler(filters.TEXT, handler))
        await self.application.initialize()
        self.sent = 0

    async def run(self, messages: int) -> float:
        """Seconds the next ``messages`` updates take (parsed before the clock starts)."""
        bot = self.application.bot
        updates = [
            Update.de_json(update_json(n), bot) for n in range(self.sent, self.sent + messages)
        ]
        self.sent += messages
        started = time.perf_counter()
        for update in updates:
            await self.application.process_update(update)
        return time.perf_counter() - started

    async def close(self) -> None:
        await self.application.shutdown()
        await self.engine.dispose()


async def reference_rate(url: str, messages: int) -> float:
    reference = Reference(url)
    await reference.start()
    await reference.run(20)
    elapsed = await reference.run(messages)
    await reference.close()
    return messages / elapsed


async def asgi_post(
    app: Any, path: str, body: bytes, headers: dict[str, str] | None = None, query: str = ""
) -> tuple[int, bytes]:
    """POST ``body`` to ``path?query`` of the ASGI ``app`` as a server such as uvicorn calls
    it, after parsing the request: one scope, the body in one message. Status and body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"content-length", str(len(body)).encode()),
            *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("bench", 80),
    }
    request = [{"type": "http.request", "body": body, "more_body": False}]
    status, answer = 0, bytearray()

    async def receive() -> dict[str, Any]:
        return request.pop() if request else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            answer.extend(message.get("body", b""))

    await app(scope, receive, send)
    return status, bytes(answer)


async def postgres_database() -> tuple[str, Callable[[], Awaitable[None]]] | None:
    import asyncpg  # type: ignore[import-untyped]

    server = POSTGRES.replace("postgresql+asyncpg://", "postgresql://")
    name = f"unionbot_bench_{uuid.uuid4().hex[:8]}"
    try:
        connection = await asyncpg.connect(server, timeout=3)
    except (OSError, asyncpg.PostgresError) as error:
        print(f"PostgreSQL skipped: not reachable at {POSTGRES} ({error})")
        return None
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()

    async def drop() -> None:
        admin = await asyncpg.connect(server)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()

    return POSTGRES.rsplit("/", 1)[0] + "/" + name, drop


@contextlib.asynccontextmanager
async def bench_databases() -> AsyncIterator[list[tuple[str, str]]]:
    """(label, URL) of SQLite in a temporary file and, when the server answers, a fresh
    PostgreSQL database; both are removed afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        databases = [("SQLite", f"sqlite+aiosqlite:///{folder}/bench.db")]
        postgres = await postgres_database()
        if postgres:
            databases.append(("PostgreSQL", postgres[0]))
        try:
            yield databases
        finally:
            if postgres:
                await postgres[1]()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {}
    turns = max(1, args.messages // BLOCK)
    for round_number in range(args.rounds):
        async with bench_databases() as databases:
            for label, url in databases:
                reference, core = Reference(url), Core(url, turns * BLOCK + 30)
                for side in (reference, core):
                    await side.start()
                    await side.run(20)
                seconds = [0.0, 0.0]
                for _ in range(turns):
                    seconds[0] += await reference.run(BLOCK)
                    seconds[1] += await core.run(BLOCK)
                for side in (reference, core):
                    await side.close()
                reference_per_s, core_per_s = (turns * BLOCK / spent for spent in seconds)
                results.setdefault(label, []).append((core_per_s, reference_per_s))
                print(
                    f"round {round_number + 1} {label:<10} core {core_per_s:5.0f} msg/s   "
                    f"reference {reference_per_s:5.0f} msg/s",
                    flush=True,
                )
    for label, rounds in results.items():
        core = statistics.median(c for c, _ in rounds)
        reference = statistics.median(r for _, r in rounds)
        ratio = core / reference
        verdict = "meets" if ratio >= TARGET else "misses"
        print(
            f"{label:<10} median core {core:5.0f} msg/s ({1000 / core:.2f} ms)   "
            f"reference {reference:5.0f} msg/s ({1000 / reference:.2f} ms)   "
            f"{ratio:4.2f}x the reference ({verdict} the {TARGET:.0f}x goal)"
        )


if __name__ == "__main__":
    asyncio.run(main())
