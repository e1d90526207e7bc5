"""Where the webhook records the messages it took, so a retry is never handled twice:
the database (``wechat_seen_messages``) or, with ``UNIONBOT_REDIS_URL``, Redis."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Protocol

from storage.types import utcnow
from storage.wechat import WebhookRows

SEEN_KEPT = timedelta(days=1)
"""WeChat retries within seconds; message keys older than this are forgotten."""
REDIS_PREFIX = "unionbot:wechat:seen:"

log = logging.getLogger(__name__)


class SeenStore(Protocol):
    async def first_sight(self, key: str) -> bool:
        """Record ``key``; False when any process recorded it before."""

    async def close(self) -> None: ...


class DatabaseSeen:
    def __init__(self, rows: WebhookRows) -> None:
        self._rows = rows
        self._purged_at = utcnow() - SEEN_KEPT

    async def first_sight(self, key: str) -> bool:
        now = utcnow()
        first = await self._rows.first_sight(key, now)
        if now - self._purged_at > timedelta(hours=1):
            self._purged_at = now
            try:
                await self._rows.forget_seen_before(now - SEEN_KEPT)
            except Exception:
                # The key is taken: failing this request now would make WeChat's retry find
                # it taken, and the message would never be handled.
                log.exception("forgetting old WeChat message keys failed; again in an hour")
        return first

    async def close(self) -> None:
        pass


class RedisSeen:
    """``SET key NX EX``: atomic across processes, and Redis forgets old keys itself."""

    def __init__(self, url: str) -> None:
        import redis.asyncio

        self._redis: Any = redis.asyncio.from_url(url)

    async def first_sight(self, key: str) -> bool:
        seconds = int(SEEN_KEPT.total_seconds())
        return bool(await self._redis.set(REDIS_PREFIX + key, 1, nx=True, ex=seconds))

    async def close(self) -> None:
        await self._redis.aclose()
