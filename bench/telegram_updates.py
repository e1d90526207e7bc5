"""Updates per second through unionbot's Telegram path, against PTB's bare process_update.

Run by hand: ``python bench/telegram_updates.py [--updates 1000] [--rounds 3]`` (not named
``telegram.py``: that would shadow the ``telegram`` package for every script in ``bench/``).
For each database (SQLite in a temporary file; PostgreSQL as in ``bench/dispatch.py``,
skipped with a note if unreachable) it measures, in the same run, with the network replaced
by ``dispatch.NoNetwork``:

- webhook: Update JSON POSTed to ``/telegram`` of ``unionbot serve``'s app: secret check,
  size bound, ``Update.de_json``, the per-chat update processor, translation to the core's
  message, the dispatcher (each update a step of a long form: identity, member and dialog
  state read and the state written) and the reply through PTB's ``sendMessage``. Each
  request is handed to the ASGI app as uvicorn hands it one, its JSON encoded before the
  clock starts: Telegram's servers do that work (the reference's Updates are parsed
  beforehand too), and uvicorn's HTTP parsing is not counted;
- through httpx: the same through httpx's in-process ASGI client, whose own work per request
  (building its Request, reading its Response) is a good part of the figure;
- process_update: the same without HTTP, ``Application.process_update`` on the channel;
- bare PTB: ``Application.process_update`` with a handler that only replies, no database;
- PTB + database: the reference of ``bench/dispatch.py`` (one read and one write);
- console: the same form steps through the console channel (``bench/dispatch.py``'s core),
  so that process_update/console is what the Telegram translation and PTB add.

Each round (``--rounds``, on fresh tables) sets every side up and then runs them in turn, a
block of ``BLOCK`` updates each, until each has handled ``--updates``: a burst of other work
on the machine slows every side alike, so the ratios hold up on a loaded machine where rates
measured one after the other swing by tens of percent. The median of the rounds is printed,
and the webhook is judged against 1.5x the reference's rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from dispatch import (
    Core,
    NoNetwork,
    Reference,
    asgi_post,
    bench_databases,
    long_form_app,
    update_json,
)
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.channels.telegram import SECRET_HEADER, TelegramChannel
from bot.settings import Settings
from unionbot.web import create_web_app

SECRET = "bench-secret"
WARM_UP = 20
BLOCK = 50
"""Updates each side handles before the next side's turn."""
TARGET = 1.5
"""Webhook updates per second the Telegram path must reach, as a multiple of the reference's."""


class Unionbot:
    """unionbot's Telegram channel and webhook app on one database, answering one long form."""

    def __init__(self, url: str, steps: int) -> None:
        self.url = url
        self.steps = steps

    async def start(self) -> None:
        settings = Settings(  # type: ignore[call-arg]
            database_url=self.url,
            telegram_token="1:bench",
            telegram_webhook_secret=SECRET,
            _env_file=None,
        )
        self.app = await long_form_app(settings, self.steps)
        self.channel = TelegramChannel(self.app.dispatcher, settings, request=NoNetwork())
        await self.channel.start(webhook=True)
        self.web = create_web_app(self.app, [self.channel])
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(self.web), base_url="http://bot"
        )
        opening = update_json(0)
        opening["message"]["text"] = "/bench"
        self.sent = 0
        opened, _ = await asgi_post(self.web, "/telegram", json.dumps(opening).encode(), HEADERS)
        assert opened == 200

    def _next(self, updates: int) -> list[dict[str, Any]]:
        """The next ``updates`` answers to the form."""
        first = self.sent + 1
        self.sent += updates
        return [update_json(n) for n in range(first, first + updates)]

    async def webhook(self, updates: int) -> float:
        bodies = [json.dumps(update).encode() for update in self._next(updates)]
        started = time.perf_counter()
        for body in bodies:
            if (await asgi_post(self.web, "/telegram", body, HEADERS))[0] != 200:
                raise RuntimeError("the webhook refused an update")
        return time.perf_counter() - started

    async def through_httpx(self, updates: int) -> float:
        steps = self._next(updates)
        started = time.perf_counter()
        for step in steps:
            await self.client.post("/telegram", json=step, headers=HEADERS)
        return time.perf_counter() - started

    async def process_update(self, updates: int) -> float:
        application = self.channel.application
        parsed = [Update.de_json(step, application.bot) for step in self._next(updates)]
        started = time.perf_counter()
        for update in parsed:
            await application.process_update(update)
        return time.perf_counter() - started

    async def close(self) -> None:
        await self.client.aclose()
        await self.channel.stop()
        await self.app.close()


HEADERS = {SECRET_HEADER: SECRET, "content-type": "application/json"}


async def bare_rate(updates: int) -> float:
    async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message
        await update.effective_message.reply_text("收到")

    application = Application.builder().token("1:bench").request(NoNetwork()).build()
    application.add_handler(MessageHandler(filters.TEXT, reply))
    await application.initialize()
    parsed = [Update.de_json(update_json(n), application.bot) for n in range(updates + WARM_UP)]
    for update in parsed[:WARM_UP]:
        await application.process_update(update)
    started = time.perf_counter()
    for update in parsed[WARM_UP:]:
        await application.process_update(update)
    elapsed = time.perf_counter() - started
    await application.shutdown()
    return updates / elapsed


async def round_rates(url: str, updates: int) -> dict[str, float]:
    """Every side's updates per second, measured in turns of ``BLOCK`` updates."""
    unionbot = Unionbot(url, 3 * (updates + WARM_UP) + 10)
    reference = Reference(url)
    console = Core(url, updates + WARM_UP + 10)
    for side in (unionbot, reference, console):
        await side.start()
    sides: dict[str, Callable[[int], Awaitable[float]]] = {
        "PTB+db": reference.run,
        "webhook": unionbot.webhook,
        "through httpx": unionbot.through_httpx,
        "process_update": unionbot.process_update,
        "console": console.run,
    }
    for run in sides.values():
        await run(WARM_UP)
    seconds = dict.fromkeys(sides, 0.0)
    for _ in range(max(1, updates // BLOCK)):
        for name, run in sides.items():
            seconds[name] += await run(BLOCK)
    for side in (unionbot, reference, console):
        await side.close()
    handled = max(1, updates // BLOCK) * BLOCK
    return {name: handled / spent for name, spent in seconds.items()}


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="each on fresh tables; median")
    args = parser.parse_args()
    bare = max([await bare_rate(args.updates) for _ in range(args.rounds)])
    print(f"bare PTB process_update, no database: {bare:7.0f} updates/s")
    async with bench_databases() as databases:
        for label, database in databases:
            rounds: list[dict[str, float]] = []
            for round_ in range(args.rounds):
                # A fresh SQLite file each round, so no round reads another's rows.
                url = database.replace("bench.db", f"bench{round_}.db")
                rounds.append(await round_rates(url, args.updates))
                print(
                    f"round {round_ + 1} {label}: "
                    + ", ".join(f"{k} {v:.0f}/s" for k, v in rounds[-1].items()),
                    flush=True,
                )
            median = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
            reference, webhook = median["PTB+db"], median["webhook"]
            verdict = "meets" if webhook / reference >= TARGET else "misses"
            print(
                f"{label} medians: "
                + ", ".join(f"{k} {v:.0f}/s" for k, v in median.items())
                + f"\n  ratios: webhook/PTB+db {webhook / reference:.2f} ({verdict} the "
                f"{TARGET}x goal), through httpx/PTB+db {median['through httpx'] / reference:.2f}, "
                f"process_update/PTB+db {median['process_update'] / reference:.2f}, "
                f"process_update/console {median['process_update'] / median['console']:.2f}, "
                f"process_update/bare PTB {median['process_update'] / bare:.3f}",
                flush=True,
            )


if __name__ == "__main__":
    asyncio.run(main())
