"""Updates per second through unionbot's Telegram path, against PTB's bare process_update.

Run by hand: ``python bench/telegram_updates.py [--updates 1000] [--rounds 3]`` (not named
``telegram.py``: that would shadow the ``telegram`` package for every script in ``bench/``).
For each database (SQLite in a temporary file; PostgreSQL as in ``bench/dispatch.py``,
skipped with a note if unreachable) it measures, in the same run, with the network replaced
by ``dispatch.NoNetwork``:

- webhook: Update JSON POSTed to ``/telegram`` of ``unionbot serve``'s app (in process,
  through httpx's ASGI transport): secret check, size bound, ``Update.de_json``, the
  per-chat update processor, translation to the core's message, the dispatcher (each
  update a step of a long form: identity, member and dialog state read and the state
  written in one transaction) and the reply through PTB's ``sendMessage``;
- process_update: the same without HTTP, ``Application.process_update`` on the channel;
- bare PTB: ``Application.process_update`` with a handler that only replies, no database;
- PTB + database: the reference of ``bench/dispatch.py`` (one read and one write);
- console: the same form steps through the console channel (``bench/dispatch.py``'s core),
  so that process_update/console is what the Telegram translation and PTB add.

Each is measured ``--rounds`` times, interleaved, and the best kept, since other work on the
machine only ever slows a round down. It prints each rate and the ratios of the Telegram
path to the references. The webhook rate includes httpx's in-process ASGI client, a cost a
real deployment has in uvicorn instead.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import httpx
from dispatch import (
    NoNetwork,
    bench_databases,
    core_rate,
    long_form,
    reference_rate,
    update_json,
)
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.channels.telegram import SECRET_HEADER, TelegramChannel
from bot.dispatcher import Dispatcher
from bot.settings import Settings
from storage.migrate import upgrade
from unionbot.app import build_app, service_routers
from unionbot.web import create_web_app

SECRET = "bench-secret"
WARM_UP = 20


def form_steps(updates: int) -> list[dict[str, Any]]:
    """``/bench`` to open the form, then one answer per update."""
    first = update_json(0)
    first["message"]["text"] = "/bench"
    return [first, *(update_json(n) for n in range(1, updates + WARM_UP + 1))]


async def unionbot_rates(url: str, updates: int) -> tuple[float, float]:
    settings = Settings(  # type: ignore[call-arg]
        database_url=url,
        telegram_token="1:bench",
        telegram_webhook_secret=SECRET,
        _env_file=None,
    )
    app = build_app(settings)
    await upgrade(app.engine)
    app.dispatcher = Dispatcher(
        settings,
        app.sessions,
        app.dispatcher.translations,
        app.messenger,
        [*service_routers(), long_form(2 * updates + 2 * WARM_UP + 10)],
    )
    channel = TelegramChannel(app.dispatcher, settings, request=NoNetwork())
    await channel.start(webhook=True)
    web = create_web_app(app, [channel])
    steps = form_steps(updates)
    headers = {SECRET_HEADER: SECRET}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(web), base_url="http://bot"
    ) as client:
        for step in steps[: WARM_UP + 1]:
            assert (await client.post("/telegram", json=step, headers=headers)).status_code == 200
        started = time.perf_counter()
        for step in steps[WARM_UP + 1 :]:
            await client.post("/telegram", json=step, headers=headers)
        webhook = updates / (time.perf_counter() - started)
    bot = channel.application.bot
    parsed = [Update.de_json(step, bot) for step in steps[WARM_UP + 1 :]]
    started = time.perf_counter()
    for update in parsed:
        await channel.application.process_update(update)
    direct = updates / (time.perf_counter() - started)
    await channel.stop()
    await app.close()
    return webhook, direct


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


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument(
        "--rounds", type=int, default=3, help="measure this often, interleaved; keep the best"
    )
    args = parser.parse_args()
    bare = max([await bare_rate(args.updates) for _ in range(args.rounds)])
    print(f"bare PTB process_update, no database: {bare:7.0f} updates/s")
    async with bench_databases() as databases:
        for label, database in databases:
            best = {"webhook": 0.0, "process_update": 0.0, "PTB+db": 0.0, "console": 0.0}
            for round_ in range(args.rounds):
                # A fresh SQLite file each round, so no round reads another's rows.
                url = database.replace("bench.db", f"bench{round_}.db")
                webhook, direct = await unionbot_rates(url, args.updates)
                rates = {
                    "webhook": webhook,
                    "process_update": direct,
                    "PTB+db": await reference_rate(url, args.updates),
                    "console": await core_rate(url, args.updates),
                }
                best = {k: max(best[k], rates[k]) for k in best}
            direct, with_db = best["process_update"], best["PTB+db"]
            print(
                f"{label}: "
                + ", ".join(f"{k} {v:.0f}/s" for k, v in best.items())
                + f"\n  ratios: process_update/PTB+db {direct / with_db:.2f}, "
                f"webhook/PTB+db {best['webhook'] / with_db:.2f}, "
                f"process_update/console {direct / best['console']:.2f}, "
                f"process_update/bare PTB {direct / bare:.3f}"
            )


if __name__ == "__main__":
    asyncio.run(main())
