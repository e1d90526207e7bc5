"""Living within a messaging platform's limits: pacing bulk sends, splitting long texts.

Nothing here imports a platform SDK, so any channel can use it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

STALE_CHATS = 10_000
"""Chats the pacer remembers before it forgets those whose wait has passed."""


class Pacer:
    """Spaces out messages to members who did not just write.

    Telegram allows a bot about 30 messages a second in all and about one a second to the
    same chat; above that it answers 429. Replies to a member who just wrote are not paced.
    """

    def __init__(
        self,
        per_second: float = 30.0,
        per_chat_seconds: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._sleep = sleep
        self._interval = 1.0 / per_second
        self._per_chat = per_chat_seconds
        self._next_any = 0.0
        self._next_chat: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def wait(self, chat: str) -> None:
        """Return when a message to ``chat`` may go."""
        async with self._lock:
            now = asyncio.get_running_loop().time()
            if len(self._next_chat) > STALE_CHATS:
                self._next_chat = {c: t for c, t in self._next_chat.items() if t > now}
            at = max(now, self._next_any, self._next_chat.get(chat, 0.0))
            self._next_any = at + self._interval
            self._next_chat[chat] = at + self._per_chat
        if at > now:
            await self._sleep(at - now)


def split_text(text: str, limit: int) -> list[str]:
    """Cut ``text`` into messages of at most ``limit`` characters, at line ends where it
    can; a single longer line is cut where the limit falls. Never returns an empty part."""
    if not text:
        return ["…"]
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            chunks.append(current)
            current = ""
        current += line
    if current:
        chunks.append(current)
    return [chunk.rstrip("\n") or "…" for chunk in chunks]
