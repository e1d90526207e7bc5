"""The sender: works through the outbox, paced to each channel's limits.

Only the leader runs it. For each due row it finds the member's preferred identity; if
that identity's channel runs in this process, it waits for the channel's pacer, claims
the row (``sending``, committed), sends, and records the outcome (committed). A channel
this process does not run (the console, which only ``unionbot chat`` runs) gets the
message through ``queued_messages`` in the same transaction that marks the row
``queued``, so it is queued exactly once and shown when that member next opens a chat.

Outcomes: sent; ``RateLimited`` pauses the channel for ``retry_after`` and puts the row
back; ``TemporaryFailure`` and network errors retry with exponential backoff up to
``MAX_ATTEMPTS``; ``RecipientBlocked`` marks the row blocked and the identity inactive;
anything else fails the row with its reason.

Exactly once? A crash between a send and the commit that records it leaves the row
``sending``; a new leader cannot know whether the message went out, so it marks such rows
failed (``interrupted``) instead of sending again: no one is messaged twice, and at most
one row per channel in flight (one send's duration) can end up failed this way, shown in
``/broadcasts``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot import metrics
from bot.channels.base import RateLimited, RecipientBlocked, TemporaryFailure
from bot.messages import from_json
from bot.pacing import PER_CHAT_GAP_SECONDS, Pacer
from storage import members, outbox
from storage.models import Delivery, DeliveryStatus, Identity
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

BATCH = 200
MAX_ATTEMPTS = 6
MAX_BACKOFF_SECONDS = 600.0


def pacers_for(app: App) -> dict[str, Pacer]:
    """Each channel's limits: Telegram ~30/s overall and 1/s per chat; WeChat's customer
    service messages are limited per user by the platform, paced here at
    ``UNIONBOT_WECHAT_RATE``; the console at ``UNIONBOT_CONSOLE_RATE`` (0: unpaced)."""
    s = app.settings
    return {
        "telegram": Pacer(s.telegram_rate, per_chat_gap=PER_CHAT_GAP_SECONDS),
        "wechat": Pacer(s.wechat_rate, per_chat_gap=PER_CHAT_GAP_SECONDS),
        "console": Pacer(s.console_rate),
    }


def backoff(attempts: int) -> float:
    return float(min(MAX_BACKOFF_SECONDS, 2**attempts))


@dataclass
class Stats:
    sent: int = 0
    queued: int = 0
    failed: int = 0
    blocked: int = 0
    retried: int = 0


class Sender:
    def __init__(
        self,
        app: App,
        pacers: dict[str, Pacer] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.app = app
        self.pacers = pacers if pacers is not None else pacers_for(app)
        self.clock = clock
        self.stats = Stats()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set; a send under way finishes and is recorded first."""
        async with self.app.sessions() as session, session.begin():
            interrupted = await outbox.settle_interrupted(session, self.clock())
        if interrupted:
            log.warning("%d deliveries were in flight when the last sender died", interrupted)
        while not stop.is_set():
            try:
                worked = await self.send_due(stop)
            except Exception:
                log.exception("sender round failed")
                worked = 0
            if worked == 0 and not stop.is_set():
                self._wake.clear()
                waiters = [asyncio.ensure_future(e.wait()) for e in (self._wake, stop)]
                await asyncio.wait(
                    waiters,
                    timeout=self.app.settings.sender_poll_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                for waiter in waiters:
                    waiter.cancel()

    async def send_due(self, stop: asyncio.Event | None = None) -> int:
        """One round over the rows due now; returns how many were handled."""
        now = self.clock()
        async with self.app.sessions() as session:
            rows = await outbox.due(session, now, BATCH)
            identities = await outbox.preferred_identities(session, [r.member_id for r in rows])
        handled = 0
        for row in rows:
            if stop is not None and stop.is_set():
                break
            await self._deliver(row, identities.get(row.member_id))
            handled += 1
        if handled:
            async with self.app.sessions() as session, session.begin():
                await outbox.close_finished(session, self.clock())
        return handled

    async def send_all(self) -> None:
        """Send everything due now (tests and benchmarks)."""
        while await self.send_due():
            pass

    async def _deliver(self, row: Delivery, identity: Identity | None) -> None:
        if identity is None:
            await self._record(row, DeliveryStatus.FAILED, "no active account")
            return
        channel = self.app.messenger.channels.get(identity.channel)
        if channel is None:
            async with self.app.sessions() as session, session.begin():
                if await outbox.hand_to_queue(session, row.id, identity.id, row.body, self.clock()):
                    self.stats.queued += 1
                    metrics.SENDS.labels("queued").inc()
            return
        pacer = self.pacers.setdefault(identity.channel, Pacer(0))
        await pacer.wait(identity.external_id)
        async with self.app.sessions() as session, session.begin():
            if not await outbox.claim(session, row.id):
                return
        try:
            await pacer.acquire(identity.external_id)
            await channel.send(identity.external_id, from_json(row.body))
        except RateLimited as limited:
            pacer.hold(limited.retry_after)
            await self._retry(row, f"rate limited {limited.retry_after}s", limited.retry_after)
        except RecipientBlocked:
            async with self.app.sessions() as session, session.begin():
                await members.mark_inactive(session, identity.id)
            await self._record(row, DeliveryStatus.BLOCKED, "blocked the bot")
        except (TemporaryFailure, OSError, TimeoutError) as error:
            await self._retry(row, f"{type(error).__name__}: {error}"[:200])
        except Exception as error:
            log.warning("delivery %s failed: %r", row.id, error)
            await self._record(row, DeliveryStatus.FAILED, f"{type(error).__name__}: {error}"[:200])
        else:
            await self._record(row, DeliveryStatus.SENT)

    async def _retry(self, row: Delivery, reason: str, after: float | None = None) -> None:
        attempts = row.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            await self._record(row, DeliveryStatus.FAILED, f"gave up: {reason}"[:200])
            return
        wait = after if after is not None else backoff(attempts)
        self.stats.retried += 1
        await self._record(
            row,
            DeliveryStatus.PENDING,
            reason,
            not_before=self.clock() + timedelta(seconds=wait),
        )

    async def _record(
        self,
        row: Delivery,
        status: DeliveryStatus,
        reason: str | None = None,
        not_before: datetime | None = None,
    ) -> None:
        async with self.app.sessions() as session, session.begin():
            await outbox.record(session, row.id, status, self.clock(), reason, not_before)
        metrics.SENDS.labels("retry" if status is DeliveryStatus.PENDING else status).inc()
        if status is DeliveryStatus.SENT:
            self.stats.sent += 1
        elif status is DeliveryStatus.FAILED:
            self.stats.failed += 1
        elif status is DeliveryStatus.BLOCKED:
            self.stats.blocked += 1
