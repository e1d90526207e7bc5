"""Pacing sends to a channel's rate limits.

Telegram allows about 30 messages a second overall and one a second to each chat; going
over earns ``429 Too Many Requests`` with a ``retry_after``. A :class:`Pacer` spaces sends
evenly at the channel's rate and also checks a sliding one-second window, so no window of
one second ever holds more than the limit (python-telegram-bot's ``AIORateLimiter`` with
its defaults let 59 messages out in the first second when measured here). A rate-limit
answer pauses the whole channel for the time the platform asked.

The slot is taken at the moment of the API call, not before the work that leads to it: a
channel whose ``send`` reads or writes the database before it calls the platform (WeChat
looks up the identity and saves the numbered options) calls :func:`take_slot` right before
each request, and the sender runs ``send`` inside :func:`slots` for the recipient. Taking
it earlier let 21 WeChat messages into one second at a limit of 20.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

WINDOW_MARGIN = 1.03
"""The window the pacer checks is 3 % longer than the platform's, so that up to 30 ms of
jitter between taking a slot and the request reaching the platform never puts one message
too many into a second; it costs 3 % of the rate. With 0.5 % the fake APIs of
``bench/broadcast.py`` saw 31 messages in a second at 30/s and 21 at 20/s on a loaded
machine, though the slots never broke the window."""
PER_CHAT_GAP_SECONDS = 1.0
"""Telegram: at most one message a second to the same chat."""


class Pacer:
    def __init__(
        self,
        rate: float,
        *,
        per_chat_gap: float = 0.0,
        window: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``rate`` sends per ``window`` seconds; 0 means unpaced."""
        self.rate = rate
        self.window = window
        self._guard = window * WINDOW_MARGIN
        self.per_chat_gap = per_chat_gap
        self._clock = clock
        self._sleep = sleep
        self._capacity = max(1, math.floor(rate)) if rate else 0
        self._interval = window / rate if rate else 0.0
        self._recent: deque[float] = deque()
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._last_by_chat: dict[str, float] = {}

    def delay(self, chat: str) -> float:
        """Seconds until a send to ``chat`` is allowed."""
        now = self._clock()
        waits = [self._paused_until - now]
        if self.rate:
            waits.append(self._next_slot - now)
            while self._recent and now - self._recent[0] >= self._guard:
                self._recent.popleft()
            if len(self._recent) >= self._capacity:
                waits.append(self._recent[0] + self._guard - now)
        if self.per_chat_gap and chat in self._last_by_chat:
            waits.append(self._last_by_chat[chat] + self.per_chat_gap - now)
        return max(0.0, *waits)

    async def wait(self, chat: str) -> None:
        """Wait until a slot is free, without taking it."""
        while (wait := self.delay(chat)) > 0:
            await self._sleep(wait)

    async def acquire(self, chat: str) -> None:
        """Wait for a slot, then take it: call it right before the send."""
        await self.wait(chat)
        now = self._clock()
        if self.rate:
            self._recent.append(now)
            # A send that came late may be followed by one a little early (one interval of
            # slack); the one-second window above still caps every second at the limit.
            self._next_slot = max(now - self._interval, self._next_slot) + self._interval
        if self.per_chat_gap:
            self._last_by_chat[chat] = now
            if len(self._last_by_chat) > 10_000:
                self._forget_old_chats(now)

    def hold(self, seconds: float) -> None:
        """The platform said to wait (``retry_after``): pause every send on this channel."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def _forget_old_chats(self, now: float) -> None:
        self._last_by_chat = {
            chat: at for chat, at in self._last_by_chat.items() if now - at < self.per_chat_gap
        }


@dataclass
class Slots:
    """The pacer and recipient of the send under way in this task, and what it took."""

    pacer: Pacer
    chat: str
    on_taken: Callable[[], None] | None = None
    """Called once the first slot is taken."""
    taken: int = 0
    waited: float = 0.0
    """Seconds spent waiting for slots (not the API's latency)."""


_current: ContextVar[Slots | None] = ContextVar("unionbot_slots", default=None)


@contextlib.contextmanager
def slots(pacer: Pacer, chat: str, on_taken: Callable[[], None] | None = None) -> Iterator[Slots]:
    """While inside (in this task), :func:`take_slot` takes ``pacer``'s slots for ``chat``."""
    current = Slots(pacer, chat, on_taken)
    token = _current.set(current)
    try:
        yield current
    finally:
        _current.reset(token)


async def take_slot() -> None:
    """Call right before each API request that puts a message in front of a member. Inside
    :func:`slots` it waits for a slot and takes it; elsewhere (a direct reply) it does
    nothing."""
    current = _current.get()
    if current is None:
        return
    started = time.perf_counter()
    await current.pacer.acquire(current.chat)
    current.waited += time.perf_counter() - started
    current.taken += 1
    if current.taken == 1 and current.on_taken is not None:
        current.on_taken()
