"""The sender: works through the outbox (:mod:`bot.delivery`), each channel at its own pace.

Only the leader runs it, and it is the only code that sends a member anything but a direct
reply. Each channel attached to ``app.outbox`` has its own loop (:class:`ChannelSender`)
and its own :class:`~bot.pacing.Pacer`, and takes only the due rows of members whose
preferred identity is on that channel, so a backlog or a slow API on one channel never
delays another. One more loop fails the rows of members left with no active account.

A platform's API answers in tens or hundreds of milliseconds, so one send at a time reaches
a fraction of its rate (0.18 of it at 100 ms). A loop keeps about rate × latency sends in
flight (:func:`in_flight_limit`, from the latency it observes), and each send takes its
pacer slot at the moment of the API call (:func:`bot.pacing.take_slot`), so however many
are in flight no one-second window holds more than the limit. Two rows for one member are
never in flight together, so a member's messages arrive in the order they were written.

A round takes due rows by priority (interactive before reminders before broadcasts); when
new rows are written while it works through reminders or broadcasts it stops and looks
again, so a member's introduction does not wait behind a broadcast. Before its per-row
sends a round awaits the channel's ``send_bulk(now)`` if it has one (WeChat's mass sends).
A loop is woken at once: in-process by :meth:`~bot.delivery.Outbox.wake`, from other
processes by PostgreSQL ``NOTIFY`` (on SQLite it looks every
``UNIONBOT_SENDER_POLL_SECONDS``).

Per row it claims the row (``sending``, committed), sends, and records the outcome
(:mod:`bot.outcomes`); claims and outcomes are written in batches, few transactions for
many rows (:mod:`bot.outbox_writer`). A ``RateLimited`` answer also pauses the channel for
the ``retry_after`` the platform asked.

Exactly once? A crash between a send and the commit that records it leaves the row
``sending``; a new leader cannot know whether the message went out, so it marks such rows
failed (``interrupted``) instead of sending again: no one is messaged twice. In doubt are
only the sends the API has, the :data:`READY` rows claimed ahead of their slot and the
outcomes of the last moments not yet written; the other sends in flight wait unclaimed. On
stop, sends not yet claimed are left for the next leader and those claimed finish and are
recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot import outcomes
from bot.channels.base import Channel, RateLimited, RecipientBlocked, Routed
from bot.messages import Outgoing, from_json
from bot.outbox_writer import OutboxWriter
from bot.pacing import PER_CHAT_GAP_SECONDS, Pacer, slots
from storage import outbox
from storage.models import Delivery, Identity
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

BATCH = 200
TOP_PRIORITY = 0
FIRST_LATENCY_SECONDS = 0.25
"""What a send is taken to last until sends have been timed."""
LATENCY_WEIGHT = 0.1
"""How much each timed send moves the observed latency (an exponential moving average)."""
HEADROOM = 1.5
READY = 2
"""Rows a loop claims ahead of the pacer's slot: the rest of its sends in flight wait
unclaimed, so a crash leaves in doubt only the sends the API has and these few."""
MAX_IN_FLIGHT = 64
UNPACED_IN_FLIGHT = 8


def pacers_for(app: App) -> dict[str, Pacer]:
    """Each channel's limits: Telegram ~30/s overall and 1/s per chat; WeChat's customer
    service messages are limited per user by the platform, paced here at
    ``UNIONBOT_WECHAT_RATE``."""
    s = app.settings
    return {
        "telegram": Pacer(s.telegram_rate, per_chat_gap=PER_CHAT_GAP_SECONDS),
        "wechat": Pacer(s.wechat_rate, per_chat_gap=PER_CHAT_GAP_SECONDS),
    }


def in_flight_limit(rate: float, latency: float) -> int:
    """Sends to keep in flight to hold ``rate`` a second when each lasts ``latency``
    seconds besides waiting for the pacer (Little's law), with headroom for jitter. More
    would only wait for the pacer, claimed: in doubt after a crash."""
    if not rate:
        return UNPACED_IN_FLIGHT
    return max(2, min(MAX_IN_FLIGHT, math.ceil(rate * latency * HEADROOM) + 1))


class Turn:
    """A place among the :data:`READY` rows claimed ahead of their slot, given up once."""

    def __init__(self, ready: asyncio.Semaphore) -> None:
        self._ready = ready
        self._held = False

    async def wait(self) -> None:
        await self._ready.acquire()
        self._held = True

    def over(self) -> None:
        if self._held:
            self._held = False
            self._ready.release()


class Sender:
    """A :class:`ChannelSender` for each channel attached to ``app.outbox`` (made as they
    are first needed) and one for members with no account, run side by side."""

    def __init__(
        self,
        app: App,
        pacers: dict[str, Pacer] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.app = app
        self.pacers = pacers if pacers is not None else pacers_for(app)
        self.clock = clock
        self.loops: dict[str, ChannelSender] = {}
        self.writing: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if app.engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )
        """SQLite takes one writer at a time: the sender's writes queue for it here, in
        order, rather than in SQLite's busy loop, where a writer can wait while later
        ones go first."""
        self.writer = OutboxWriter(app, clock, self.writing)
        """Every channel's claims and outcomes, written together."""
        self.stats = self.writer.stats
        app.outbox.on_wake(self.wake)

    def wake(self) -> None:
        for loop in self.loops.values():
            loop.wake()

    def channel_loops(self) -> list[ChannelSender]:
        for name in [*self.app.outbox.channels, outbox.NO_CHANNEL]:
            if name not in self.loops:
                self.loops[name] = ChannelSender(self, name)
        return list(self.loops.values())

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set; sends under way finish and are recorded first."""
        async with self.app.sessions() as session, session.begin():
            interrupted = await outbox.settle_interrupted(session, self.clock())
        if interrupted:
            log.warning("%d deliveries were in flight when the last sender died", interrupted)
        async with outbox.listening(self.app.engine, self.wake):
            await asyncio.gather(*(loop.run(stop) for loop in self.channel_loops()))

    async def send_all(self) -> None:
        """Send everything due now, every channel side by side (tests and benchmarks)."""
        running = asyncio.Event()
        await asyncio.gather(*(loop.run(running, until_idle=True) for loop in self.channel_loops()))


class ChannelSender:
    """One channel's loop: its due rows, up to :func:`in_flight_limit` sends in flight."""

    def __init__(self, sender: Sender, name: str) -> None:
        self.sender = sender
        self.app = sender.app
        self.name = name
        self.writer = sender.writer
        self.pacer = sender.pacers.setdefault(name, Pacer(0))
        self.latency = FIRST_LATENCY_SECONDS
        self._wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._members: set[int] = set()
        """Members with a send in flight: their next row waits for it."""
        self._done_lately: set[int] = set()
        """Rows finished since the last look: the look may have read them before."""
        self._bulk_settled = 0
        self._ready = asyncio.Semaphore(READY)

    def wake(self) -> None:
        self._wake.set()

    def in_flight_limit(self) -> int:
        return in_flight_limit(self.pacer.rate / self.pacer.window, self.latency)

    async def run(self, stop: asyncio.Event, *, until_idle: bool = False) -> None:
        """Rounds until ``stop`` is set (or, ``until_idle``, until nothing is due and
        nothing in flight); the sends in flight finish first."""
        poll = self.app.settings.sender_poll_seconds
        try:
            while not stop.is_set():
                try:
                    started, skipped = await self._round(stop)
                except Exception:
                    log.exception("sender round for %s failed", self.name or "no account")
                    started, skipped = 0, False
                if started or stop.is_set():
                    continue
                if self._in_flight:
                    await self._pause(stop, poll, *self._in_flight.values())
                elif not skipped and not self._wake.is_set():
                    if until_idle:
                        break
                    await self._pause(stop, poll)
        finally:
            await self._drain()

    async def _round(self, stop: asyncio.Event) -> tuple[int, bool]:
        """Start sends for the rows due now. Returns how many rows were handled, and
        whether due rows were passed over because of sends in flight."""
        await self._close_finished()
        now = self.sender.clock()
        started = 0
        bulk = getattr(self.app.outbox.channels.get(self.name), "send_bulk", None)
        if bulk is not None:
            try:
                handled: int = await bulk(now)
            except Exception:  # the rows it claims stay claimed; the others still go
                log.exception("the bulk step for %s failed", self.name)
                handled = 0
            started += handled
            self._bulk_settled += handled
        self._done_lately.clear()
        self._wake.clear()
        async with self.app.sessions() as session:
            rows = await outbox.due(session, now, BATCH, [self.name])
            identities = await outbox.preferred_identities(session, [r.member_id for r in rows])
        skipped = False
        waiting = math.inf  # a row waits for its member's send: none of lower priority starts
        for row in rows:
            if row.id in self._in_flight or row.id in self._done_lately:
                skipped = True
                continue
            if row.member_id in self._members:
                skipped = True
                waiting = min(waiting, row.priority)
                continue
            if row.priority > waiting:
                break
            await self._room()
            if stop.is_set():
                break
            if started and self._wake.is_set() and row.priority > TOP_PRIORITY:
                break  # new rows may come first: look again
            self._start(row, identities.get(row.member_id), stop)
            started += 1
        return started, skipped

    async def _room(self) -> None:
        while len(self._in_flight) >= self.in_flight_limit():
            await asyncio.wait(self._in_flight.values(), return_when=asyncio.FIRST_COMPLETED)

    def _start(self, row: Delivery, identity: Identity | None, stop: asyncio.Event) -> None:
        self._members.add(row.member_id)
        self._in_flight[row.id] = asyncio.create_task(self._send_row(row, identity, stop))

    async def _send_row(
        self, row: Delivery, identity: Identity | None, stop: asyncio.Event
    ) -> None:
        try:
            await self._deliver(row, identity, stop)
        except Exception:
            log.exception("delivery %s failed", row.id)
        finally:
            del self._in_flight[row.id]
            self._members.discard(row.member_id)
            self._done_lately.add(row.id)

    async def _pause(self, stop: asyncio.Event, seconds: float, *tasks: asyncio.Task[None]) -> None:
        """Until a wake, ``stop``, one of ``tasks`` finishing, or ``seconds``."""
        waiters = [asyncio.ensure_future(event.wait()) for event in (self._wake, stop)]
        try:
            await asyncio.wait(
                [*waiters, *tasks], timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _drain(self) -> None:
        while self._in_flight:
            await asyncio.wait(list(self._in_flight.values()))
        await self.writer.flush()
        await self._close_finished()

    async def _close_finished(self) -> None:
        """Broadcasts the bulk step settled may be finished (the writer sees to the rest)."""
        if self._bulk_settled:
            self._bulk_settled = 0
            async with self._transaction() as session:
                await outbox.close_finished(session, self.sender.clock())

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sender.writing, self.app.sessions() as session, session.begin():
            yield session

    async def _deliver(self, row: Delivery, identity: Identity | None, stop: asyncio.Event) -> None:
        if identity is None:
            # it stays pending, for the loop to read again, until its outcome is written
            await self.writer.record(row, outcomes.failed(row, "no active account"))
            return
        channel = self.app.outbox.channels.get(identity.channel)
        if channel is None or identity.channel != self.name:
            return  # the member moved to a channel another loop, or no loop here, sends on
        chat = identity.external_id
        await self._slot_free(chat, stop)
        turn = Turn(self._ready)
        await turn.wait()
        try:
            if not stop.is_set():
                await self._claim_and_send(row, identity, channel, turn)
        finally:
            turn.over()

    async def _claim_and_send(
        self, row: Delivery, identity: Identity, channel: Channel, turn: Turn
    ) -> None:
        began = time.perf_counter()
        body = await self.writer.claim(row)
        if body is None:
            return
        try:
            routed, waited = await self._send(channel, identity.external_id, from_json(body), turn)
        except Exception as error:
            if isinstance(error, RateLimited):
                self.pacer.hold(error.retry_after)
            blocked = identity.id if isinstance(error, RecipientBlocked) else None
            self.writer.record(row, outcomes.not_sent(row, error, self.sender.clock()), blocked)
        else:
            self.writer.record(row, outcomes.sent(row, routed))
            busy = time.perf_counter() - began - waited
            self.latency += LATENCY_WEIGHT * (busy - self.latency)

    async def _slot_free(self, chat: str, stop: asyncio.Event) -> None:
        """Wait until the pacer would let a send to ``chat`` go (without taking the slot),
        so a row is claimed only when it can be sent soon; ``stop`` ends the wait."""
        if self.pacer.delay(chat) <= 0:
            return
        waiting = asyncio.ensure_future(self.pacer.wait(chat))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait([waiting, stopping], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        stopping.cancel()

    async def _send(
        self, channel: Channel, chat: str, message: Outgoing, turn: Turn
    ) -> tuple[Routed | None, float]:
        """Send, taking the pacer's slot at the API call (which ends ``turn``); returns
        the route the channel took and the seconds spent waiting for slots."""
        if getattr(channel, "takes_slots", False):
            with slots(self.pacer, chat, on_taken=turn.over) as taken:
                routed = await channel.send(chat, message)
            return routed, taken.waited
        began = time.perf_counter()
        await self.pacer.acquire(chat)
        turn.over()
        waited = time.perf_counter() - began
        return await channel.send(chat, message), waited
