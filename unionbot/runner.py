"""Running the configured channels: ``unionbot run`` (polling) and ``unionbot serve`` (webhooks).

Either way the process competes to be the leader, the one process that runs the scheduler
and the sender (:mod:`bot.background`), which sends every outbox row for its channels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Iterator

import uvicorn

from bot.app import App
from bot.background import Background
from bot.channels.base import ServiceChannel
from unionbot.channels import configured_channels
from unionbot.web import create_web_app

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class NoChannel(Exception):
    """No channel has its settings; the message says which to set."""


@contextlib.asynccontextmanager
async def channels_running(app: App, *, webhook: bool) -> AsyncIterator[list[ServiceChannel]]:
    """The configured channels started and attached to the outbox, and the process
    competing for leadership; on leaving, intake stops first, then the sender finishes the
    send under way and leadership is released, then the channels close."""
    channels = configured_channels(app)
    if not channels:
        raise NoChannel(
            "no channel configured: set UNIONBOT_TELEGRAM_TOKEN, or the UNIONBOT_WECHAT_* settings"
        )
    background = Background(app)
    for channel in channels:
        app.outbox.attach(channel)
        await channel.start(webhook=webhook)
    await background.start()
    try:
        yield channels
    finally:
        for channel in channels:
            await channel.stop_intake()
        await background.stop()
        for channel in channels:
            await channel.stop()


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGTERM (systemd, ``docker stop``) and SIGINT set ``stop`` instead of killing the
    process, so it can shut down in order and exit 0."""
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, _stopping, sig, stop)
    try:
        yield
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


def _stopping(sig: signal.Signals, stop: asyncio.Event) -> None:
    log.info("%s: stopping (finishing what is under way)", sig.name)
    stop.set()


async def run_polling(app: App) -> None:
    stop = asyncio.Event()
    with stop_on_signals(stop):
        async with channels_running(app, webhook=False):
            await stop.wait()
    log.info("stopped")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: :func:`stop_on_signals` decides, and
    uvicorn would raise the signal again once it has stopped, killing the process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(app: App, host: str, port: int) -> None:
    stop = asyncio.Event()
    with stop_on_signals(stop):
        async with channels_running(app, webhook=True) as channels:
            config = uvicorn.Config(
                create_web_app(app, channels), host=host, port=port, log_config=None
            )
            server = _Server(config)
            serving = asyncio.create_task(server.serve())
            await asyncio.wait(
                [serving, asyncio.ensure_future(stop.wait())], return_when="FIRST_COMPLETED"
            )
            server.should_exit = True  # stop taking requests; those under way finish
            await serving
    log.info("stopped")
