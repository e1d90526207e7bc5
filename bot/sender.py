"""The sender: works through the outbox (:mod:`bot.delivery`), paced to each channel's limits.

Only the leader runs it, and it is the only code that sends a member anything but a direct
reply: one :class:`~bot.pacing.Pacer` per channel, here. It takes due rows by priority
(interactive before reminders before broadcasts) for the members whose preferred identity
is on a channel attached to ``app.outbox``; when new rows are written while it works
through reminders or broadcasts it stops and looks again, so a member's introduction does
not wait behind a broadcast. It is woken at once: in-process by
:meth:`~bot.delivery.Outbox.wake`, from other processes by PostgreSQL ``NOTIFY`` (on SQLite
it looks every ``UNIONBOT_SENDER_POLL_SECONDS``).

Per row it waits for the channel's pacer, claims the row (``sending``, committed; a live
row is rendered then, with everything since it was written), sends, and records the
outcome (committed). Outcomes: sent; ``RateLimited`` pauses the channel for
``retry_after`` and puts the row back; ``TemporaryFailure`` and network errors retry with
exponential backoff up to ``MAX_ATTEMPTS``; ``RecipientBlocked`` marks the row blocked and
the identity inactive; anything else fails the row with its reason.

Exactly once? A crash between a send and the commit that records it leaves the row
``sending``; a new leader cannot know whether the message went out, so it marks such rows
failed (``interrupted``) instead of sending again: no one is messaged twice. A lost database
connection is not a crash: the outcome is recorded again until the database answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import delivery, metrics
from bot.channels.base import RateLimited, RecipientBlocked, Routed, TemporaryFailure
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
TOP_PRIORITY = 0
RECORD_RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
"""Waits between tries to record an outcome while the database is unreachable; the last
is repeated until it answers."""


def pacers_for(app: App) -> dict[str, Pacer]:
    """Each channel's limits: Telegram ~30/s overall and 1/s per chat; WeChat's customer
    service messages are limited per user by the platform, paced here at
    ``UNIONBOT_WECHAT_RATE``."""
    s = app.settings
    return {
        "telegram": Pacer(s.telegram_rate, per_chat_gap=PER_CHAT_GAP_SECONDS),
        "wechat": Pacer(s.wechat_rate, per_chat_gap=PER_CHAT_GAP_SECONDS),
    }


def backoff(attempts: int) -> float:
    return float(min(MAX_BACKOFF_SECONDS, 2**attempts))


@dataclass
class Stats:
    sent: int = 0
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
        app.outbox.on_wake(self.wake)

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set; a send under way finishes and is recorded first."""
        async with self.app.sessions() as session, session.begin():
            interrupted = await outbox.settle_interrupted(session, self.clock())
        if interrupted:
            log.warning("%d deliveries were in flight when the last sender died", interrupted)
        async with outbox.listening(self.app.engine, self.wake):
            while not stop.is_set():
                self._wake.clear()
                try:
                    worked = await self.send_due(stop)
                except Exception:
                    log.exception("sender round failed")
                    worked = 0
                if worked == 0 and not stop.is_set() and not self._wake.is_set():
                    await _first_of(self._wake, stop, self.app.settings.sender_poll_seconds)

    async def send_due(self, stop: asyncio.Event | None = None) -> int:
        """One round over the rows due now; returns how many were handled. A round of
        reminders or broadcasts ends early when new rows are written, which may come first."""
        now = self.clock()
        channels = [*self.app.outbox.channels, outbox.NO_CHANNEL]
        async with self.app.sessions() as session:
            rows = await outbox.due(session, now, BATCH, channels)
            identities = await outbox.preferred_identities(session, [r.member_id for r in rows])
        self._wake.clear()
        handled = 0
        for row in rows:
            if stop is not None and stop.is_set():
                break
            if handled and self._wake.is_set() and row.priority > TOP_PRIORITY:
                break  # new rows may come first: look again
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
            await self._record([row.id], DeliveryStatus.FAILED, "no active account")
            return
        channel = self.app.outbox.channels.get(identity.channel)
        if channel is None:
            return  # the member moved to a channel this process does not send on
        pacer = self.pacers.setdefault(identity.channel, Pacer(0))
        await pacer.wait(identity.external_id)
        async with self.app.sessions() as session, session.begin():
            body = await self._claim(session, row)
        if body is None:
            return
        ids = [row.id]
        try:
            await pacer.acquire(identity.external_id)
            routed = await channel.send(identity.external_id, from_json(body))
        except RateLimited as limited:
            pacer.hold(limited.retry_after)
            reason = f"rate limited {limited.retry_after}s"
            await self._retry(row, ids, reason, limited.retry_after)
        except RecipientBlocked:
            async with self.app.sessions() as session, session.begin():
                await members.mark_inactive(session, identity.id)
            await self._record(ids, DeliveryStatus.BLOCKED, "blocked the bot")
        except (TemporaryFailure, OSError, TimeoutError) as error:
            await self._retry(row, ids, f"{type(error).__name__}: {error}"[:200])
        except Exception as error:
            log.warning("delivery %s failed: %r", row.id, error)
            reason = f"{type(error).__name__}: {error}"[:200]
            await self._record(ids, DeliveryStatus.FAILED, reason)
        else:
            await self._record(ids, DeliveryStatus.SENT, routed=routed)

    async def _claim(self, session: AsyncSession, row: Delivery) -> dict[str, Any] | None:
        """The row's message, claimed; a live row is rendered now, in the claim's
        transaction, and kept so (see :func:`storage.outbox.add_live` for why here)."""
        if row.coalesce_key is not None:
            await outbox.lock_live(session, row.coalesce_key)
        body = await outbox.claim(session, row.id)
        if body is None or delivery.LIVE not in body:
            return body
        language, _ = (await outbox.recipients(session, [row.member_id]))[row.member_id]
        rendered = await delivery.render(session, self.app.outbox.translator(language), body)
        if rendered is None:
            await outbox.record(session, [row.id], DeliveryStatus.FAILED, self.clock(), "gone")
            return None
        await outbox.replace_body(session, row.id, rendered)
        return rendered

    async def _retry(
        self, row: Delivery, ids: list[int], reason: str, after: float | None = None
    ) -> None:
        attempts = row.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            await self._record(ids, DeliveryStatus.FAILED, f"gave up: {reason}"[:200])
            return
        wait = after if after is not None else backoff(attempts)
        self.stats.retried += 1
        await self._record(
            ids,
            DeliveryStatus.PENDING,
            reason,
            not_before=self.clock() + timedelta(seconds=wait),
        )

    async def _record(
        self,
        ids: list[int],
        status: DeliveryStatus,
        reason: str | None = None,
        not_before: datetime | None = None,
        routed: Routed | None = None,
    ) -> None:
        """Record an outcome, trying again while the database connection is lost: a
        delivered message must not be left ``sending`` and later called interrupted."""
        route = (routed.route, routed.reason) if routed is not None else (None, None)
        attempt = 0
        while True:
            try:
                async with self.app.sessions() as session, session.begin():
                    await outbox.record(
                        session, ids, status, self.clock(), reason, not_before, *route
                    )
                break
            except (DBAPIError, OSError) as error:
                wait = RECORD_RETRY_SECONDS[min(attempt, len(RECORD_RETRY_SECONDS) - 1)]
                attempt += 1
                log.warning(
                    "recording deliveries %s as %s failed, trying again in %.1f s: %s",
                    ids,
                    status,
                    wait,
                    type(error).__name__,
                )
                await asyncio.sleep(wait)
        metrics.SENDS.labels("retry" if status is DeliveryStatus.PENDING else status).inc(len(ids))
        if status is DeliveryStatus.SENT:
            self.stats.sent += len(ids)
        elif status is DeliveryStatus.FAILED:
            self.stats.failed += len(ids)
        elif status is DeliveryStatus.BLOCKED:
            self.stats.blocked += len(ids)


async def _first_of(wake: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in (wake, stop)]
    await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
