"""Encrypted WeChat messages per second through the webhook, and what the channel adds.

Run by hand: ``python bench/wechat_webhook.py [--messages 1000] [--rounds 3]``. For SQLite
(a temporary file) and PostgreSQL (UNIONBOT_BENCH_POSTGRES_URL, as in bench/dispatch.py) it
posts safe-mode text messages, each with a new MsgId, to ``unionbot serve``'s app in-process
(no sockets) and measures, in the same run:

- webhook: signature, AES decryption, strict XML check, parse, the dedupe insert, the core
  (``/help``), rendering (the options written when they change), and the encrypted passive
  reply, each request handed to the ASGI app as uvicorn hands it one (uvicorn's own HTTP
  work is not counted). The requests are signed and encrypted before the clock starts, as
  WeChat's servers do that work (the reference's Updates are built beforehand too);
- through httpx: the same through httpx's in-process ASGI client, whose own work per request
  (building and reading its Request and Response) took 0.6-1.3 ms here, more than the
  webhook's own on a quiet machine;
- core: the same ``/help`` messages straight into ``Dispatcher.handle``;
- reference: ``bench/dispatch.py``'s python-telegram-bot ``process_update`` with one
  SQLAlchemy read and write.

They are interleaved, reference first, for ``--rounds`` rounds (each on fresh
databases), and the median of each side's rounds is judged: the webhook should reach 1.2x
the reference's rate.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dispatch import asgi_post, bench_databases, reference_rate
from bot.channels.wechat import WeChatChannel
from bot.messages import Incoming
from bot.settings import Settings
from storage.migrate import upgrade
from tests.wechat_support import AES_KEY, APP_ID, TOKEN, WeChatServer, message_xml
from unionbot.app import build_app
from unionbot.web import create_web_app

USERS = 20
TARGET = 1.2


class Recorder(WeChatServer):
    """Makes each request as WeChat would, keeping it instead of posting it."""

    def __init__(self) -> None:
        super().__init__("http://bench")
        self.made: list[tuple[bytes, dict[str, str]]] = []

    async def post_raw(self, body: bytes | str, query: dict[str, str]) -> httpx.Response:
        self.made.append((body.encode() if isinstance(body, str) else body, query))
        return httpx.Response(200)


async def requests(messages: int) -> list[tuple[bytes, dict[str, str]]]:
    recorder = Recorder()
    for n in range(messages):
        await recorder.post(
            message_xml(f"o-{n % USERS}", "text", Content="/help", MsgId=str(10_000 + n))
        )
    await recorder.close()
    return recorder.made


async def measure(url: str, messages: int) -> tuple[float, float, float]:
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
    client = httpx.AsyncClient(transport=httpx.ASGITransport(web), base_url="http://bench")
    made = await requests(2 * messages)
    server = WeChatServer("http://bench")
    server.client = client
    for number in range(USERS):
        await server.text(f"o-{number}", "/help")
    started = time.perf_counter()
    for body, query in made[:messages]:
        status, answer = await asgi_post(web, "/wechat", body, query=urlencode(query))
        assert status == 200 and b"<Encrypt>" in answer
    webhook = messages / (time.perf_counter() - started)
    started = time.perf_counter()
    for body, query in made[messages:]:
        response = await client.post("/wechat", params=query, content=body)
        assert response.status_code == 200 and "<Encrypt>" in response.text
    through_httpx = messages / (time.perf_counter() - started)
    started = time.perf_counter()
    for n in range(messages):
        user = f"o-{n % USERS}"
        await app.dispatcher.handle(Incoming("wechat", user, user, text="/help"))
    core = messages / (time.perf_counter() - started)
    await server.close()
    await channel.stop()
    await app.close()
    return webhook, through_httpx, core


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float, float, float]]] = {}
    for round_number in range(args.rounds):
        async with bench_databases() as databases:
            for name, url in databases:
                reference = await reference_rate(url, args.messages)
                webhook, through_httpx, core = await measure(url, args.messages)
                results.setdefault(name, []).append((webhook, through_httpx, core, reference))
                print(
                    f"round {round_number + 1} {name:<10} webhook {webhook:5.0f} msg/s   "
                    f"through httpx {through_httpx:5.0f} msg/s   core {core:5.0f} msg/s   "
                    f"reference {reference:5.0f} msg/s",
                    flush=True,
                )
    print(
        "| database | webhook (encrypted) | through httpx | core alone | reference "
        "| webhook / reference | through httpx / reference |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, rounds in results.items():
        webhook, through_httpx, core, reference = (
            statistics.median(side) for side in zip(*rounds, strict=True)
        )
        verdict = "meets" if webhook / reference >= TARGET else "misses"
        print(
            f"| {name} | {webhook:.0f} msg/s | {through_httpx:.0f} msg/s | {core:.0f} msg/s "
            f"| {reference:.0f} msg/s | {webhook / reference:.2f}x ({verdict} {TARGET}x) "
            f"| {through_httpx / reference:.2f}x |"
        )


if __name__ == "__main__":
    asyncio.run(main())
