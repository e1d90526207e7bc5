"""The webhook's message keys: taken once, and on PostgreSQL committed without waiting for
the disk for that statement alone (the connection's later commits still wait)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bot.channels.wechat.seen import DatabaseSeen
from bot.settings import Settings
from storage.db import create_engine
from storage.message_state import MessageState
from storage.types import utcnow
from storage.wechat import WebhookRows


async def test_a_key_is_taken_once_and_the_connection_keeps_durable_commits(
    settings: Settings,
) -> None:
    engine = create_engine(settings.database_url, pool_size=1, max_overflow=0)
    try:
        rows = WebhookRows(MessageState(engine))
        taken = [await rows.first_sight(key, utcnow()) for key in ("m:1", "m:2", "m:1")]
        async with engine.connect() as connection:
            stored = await connection.scalar(text("SELECT count(*) FROM wechat_seen_messages"))
            if engine.dialect.name == "postgresql":
                setting = await connection.scalar(text("SHOW synchronous_commit"))
                assert setting == "on"
    finally:
        await engine.dispose()
    assert taken == [True, True, False]
    assert stored == 2


async def test_a_failed_purge_of_old_keys_still_lets_the_message_be_handled(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(settings.database_url)
    try:
        rows = WebhookRows(MessageState(engine))

        async def broken(_cutoff: object) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(rows, "forget_seen_before", broken)
        seen = DatabaseSeen(rows)
        assert await seen.first_sight("m:1") is True
        assert await seen.first_sight("m:1") is False
    finally:
        await engine.dispose()
