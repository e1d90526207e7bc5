"""The channels whose settings are present; each missing one is said in one log line."""

from __future__ import annotations

import logging

from bot.app import App
from bot.channels.base import ServiceChannel
from bot.settings import wechat_missing

log = logging.getLogger(__name__)


def configured_channels(app: App) -> list[ServiceChannel]:
    channels: list[ServiceChannel] = []
    if app.settings.telegram_token:
        from bot.channels.telegram import TelegramChannel

        channels.append(TelegramChannel(app.dispatcher, app.settings))
    else:
        log.info("Telegram channel off: UNIONBOT_TELEGRAM_TOKEN is not set")
    missing = wechat_missing(app.settings)
    if missing:
        log.info("WeChat channel off: %s not set", ", ".join(missing))
    else:
        from bot.channels.wechat import WeChatChannel

        channels.append(WeChatChannel(app))
    return channels
