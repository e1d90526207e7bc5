"""The webhook's message keys: taken once, and on PostgreSQL committed without waiting for
the disk for that statement alone (the connection's later commits still wait)."""

from __future__ import annotations

from sqlalchemy import text

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
