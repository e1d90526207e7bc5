"""Fixtures for the Telegram channel: the fake Bot API server and the real PTB stack on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import App
from bot.channels.telegram import TelegramChannel
from bot.settings import Settings
from tests.channels.fake_telegram import FakeTelegram

WEBHOOK_SECRET = "s3cret-token_for-tests"


def telegram_settings(settings: Settings, fake: FakeTelegram) -> Settings:
    return settings.model_copy(
        update={
            "telegram_token": fake.token,
            "telegram_api_url": fake.url,
            "telegram_webhook_secret": WEBHOOK_SECRET,
        }
    )


def make_channel(app: App, fake: FakeTelegram) -> TelegramChannel:
    channel = TelegramChannel(app.dispatcher, telegram_settings(app.settings, fake), poll_timeout=1)
    app.outbox.attach(channel)
    return channel


@pytest.fixture
async def telegram(app: App, fake: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    """The Telegram channel polling the fake server."""
    channel = make_channel(app, fake)
    await channel.start(webhook=False)
    yield channel
    await channel.stop()
