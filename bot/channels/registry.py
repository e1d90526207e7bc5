"""The channels whose settings are present; each missing one is said in one log line."""

from __future__ import annotations

import logging

from bot.app import App
from bot.channels.base import ServiceChannel

log = logging.getLogger(__name__)


def configured_channels(app: App) -> list[ServiceChannel]:
    channels: list[ServiceChannel] = []
    if app.settings.telegram_token:
        from bot.channels.telegram import TelegramChannel

        channels.append(TelegramChannel(app.dispatcher, app.settings))
    else:
        log.info("Telegram channel off: UNIONBOT_TELEGRAM_TOKEN is not set")
    if not (app.settings.wechat_app_id and app.settings.wechat_token):
        log.info("WeChat channel off: UNIONBOT_WECHAT_APP_ID and UNIONBOT_WECHAT_TOKEN are not set")
    return channels
