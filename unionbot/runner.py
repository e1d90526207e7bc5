"""Running the configured channels: ``unionbot run`` (polling) and ``unionbot serve`` (webhooks).

Either way the process also delivers what waits in ``queued_messages`` for its channels
(messages sent while no process ran that channel) and competes to be the leader, the one
process that runs the scheduler and the broadcast sender (:mod:`bot.background`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import uvicorn

from bot.app import App
from bot.background import Background
from bot.channels.base import ServiceChannel
from unionbot.channels import configured_channels
from unionbot.web import create_web_app

log = logging.getLogger(__name__)

DRAIN_INTERVAL_SECONDS = 5.0


class NoChannel(Exception):
    """No channel has its settings; the message says which to set."""


@contextlib.asynccontextmanager
async def channels_running(app: App, *, webhook: bool) -> AsyncIterator[list[ServiceChannel]]:
    channels = configured_channels(app)
    if not channels:
        raise NoChannel(
            "no channel configured: set UNIONBOT_TELEGRAM_TOKEN, or the UNIONBOT_WECHAT_* settings"
        )
    background = Background(app)
    for channel in channels:
        app.messenger.attach(channel)
        await channel.start(webhook=webhook)
    await background.start()
    drainer = asyncio.create_task(_drain_forever(app, channels))
    try:
        yield channels
    finally:
        drainer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drainer
        await background.stop()
        for channel in channels:
            await channel.stop()


async def _drain_forever(app: App, channels: list[ServiceChannel]) -> None:
    while True:
        for channel in channels:
            try:
                await app.messenger.drain(channel.name)
            except Exception:
                log.exception("delivering queued %s messages failed", channel.name)
        await asyncio.sleep(DRAIN_INTERVAL_SECONDS)


async def run_polling(app: App) -> None:
    async with channels_running(app, webhook=False):
        await asyncio.Event().wait()


async def serve(app: App, host: str, port: int) -> None:
    async with channels_running(app, webhook=True) as channels:
        config = uvicorn.Config(
            create_web_app(app, channels), host=host, port=port, log_config=None
        )
        await uvicorn.Server(config).serve()
