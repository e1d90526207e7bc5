"""Encrypted WeChat messages per second through the webhook, and what the channel adds.

Run by hand: ``python bench/wechat_webhook.py [--messages 1000]``. For SQLite (a temporary
file) and PostgreSQL (UNIONBOT_BENCH_POSTGRES_URL, as in bench/dispatch.py) it posts
safe-mode text messages, each with a new MsgId, to the webhook app in-process (httpx's ASGI
transport, so no sockets) and measures, in the same run:

- webhook: signature, AES decryption, strict XML check, parse, the dedupe insert, the core
  (``/help``), rendering with the choices write, and the encrypted passive reply;
- core: the same ``/help`` messages straight into ``Dispatcher.handle``;
- reference: ``bench/dispatch.py``'s python-telegram-bot ``process_update`` with one
  SQLAlchemy read and write, in the same run: the webhook should reach 1.2x its rate.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dispatch import bench_databases, reference_rate
from bot.channels.wechat import WeChatChannel
from bot.messages import Incoming
from bot.settings import Settings
from storage.migrate import upgrade
from tests.wechat_support import AES_KEY, APP_ID, TOKEN, WeChatServer, message_xml
from unionbot.app import build_app
from unionbot.web import create_web_app

USERS = 20


async def measure(url: str, messages: int) -> tuple[float, float]:
    settings = Settings(  # type: ignore[call-arg]
        database_url=url,
        wechat_app_id=APP_ID,
        wechat_app_secret="x",
        wechat_token=TOKEN,
        wechat_aes_key=AES_KEY,
        wechat_max_age=0,
        _env_file=None,
    )
    app = build_app(settings)
    await upgrade(app.engine)
    channel = WeChatChannel(app)
    web = create_web_app(app, [channel])
    server = WeChatServer("http://bench")
    server.client = httpx.AsyncClient(transport=httpx.ASGITransport(web), base_url="http://bench")
    for user in range(USERS):
        await server.text(f"o-{user}", "/help")
    started = time.perf_counter()
    for n in range(messages):
        xml = message_xml(f"o-{n % USERS}", "text", Content="/help", MsgId=str(10_000 + n))
        response = await server.post(xml)
        assert response.status_code == 200 and "<Encrypt>" in response.text
    webhook = messages / (time.perf_counter() - started)
    started = time.perf_counter()
    for n in range(messages):
        user = f"o-{n % USERS}"
        await app.dispatcher.handle(Incoming("wechat", user, user, text="/help"))
    core = messages / (time.perf_counter() - started)
    await server.close()
    await channel.stop()
    await app.close()
    return webhook, core


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    async with bench_databases() as databases:
        print("| database | webhook (encrypted) | core alone | reference | webhook / reference |")
        print("|---|---|---|---|---|")
        for name, url in databases:
            reference = await reference_rate(url, args.messages)
            webhook, core = await measure(url, args.messages)
            print(
                f"| {name} | {webhook:.0f} msg/s | {core:.0f} msg/s | {reference:.0f} msg/s "
                f"| {webhook / reference:.2f}x |"
            )


if __name__ == "__main__":
    asyncio.run(main())
