"""The sender's writes to the outbox: claims and outcomes, batched into few transactions.

A transaction costs far more than one more row in it (on SQLite about 2 ms of CPU for one
outcome, 0.2 ms for each of ten), so the sends in flight hand their claims and outcomes to
one :class:`OutboxWriter`, which writes whatever has gathered in one transaction. A claim
is written at once (its send waits for it) and takes the outcomes gathered meanwhile along;
an outcome waits up to :data:`RIDE_SECONDS` for a claim to ride with. An outcome not yet
written when the process dies leaves its row ``sending``: the next leader marks it failed
(``interrupted``), never sends it again.

A lost database connection is not a crash: the outcomes are written again until the
database answers (a delivered message must not be left ``sending`` and later called
interrupted); the claims of a failed transaction fail, and their rows wait for a later round.
When the database refuses a value the batch's outcomes are written again one at a time,
so only the refused one is lost (logged, its row left ``sending``); any other error is
logged and the batch's outcomes left unwritten: trying again would fail again, and hold up
every channel's sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import delivery, metrics
from storage import members, outbox
from storage.models import Delivery, DeliveryStatus
from storage.outbox import Outcome

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

RIDE_SECONDS = 0.05
"""How long an outcome waits for a claim to share its transaction."""
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
"""Waits between tries to record outcomes while the database is unreachable; the last is
repeated until it answers."""


@dataclass
class Stats:
    sent: int = 0
    failed: int = 0
    blocked: int = 0
    retried: int = 0


@dataclass(frozen=True)
class Recorded:
    """An outcome to write, with what else it changes."""

    outcome: Outcome
    broadcast: bool
    """The row belongs to a broadcast, which may now be finished."""
    inactive: int | None
    """An identity to stop sending to (the member blocked the bot)."""
    settled: asyncio.Future[None]
    """Done once the outcome is committed, or given up."""


class OutboxWriter:
    def __init__(
        self,
        app: App,
        clock: Callable[[], datetime],
        writing: contextlib.AbstractAsyncContextManager[Any],
    ) -> None:
        self.app = app
        self.clock = clock
        self.stats = Stats()
        self._writing = writing
        self._claims: list[tuple[Delivery, asyncio.Future[dict[str, Any] | None]]] = []
        self._outcomes: list[Recorded] = []
        self._claimed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._hurry = 0
        """Flushes under way: while any is, outcomes are written without waiting for a claim."""

    async def claim(self, row: Delivery) -> dict[str, Any] | None:
        """Mark the row ``sending`` (committed) and return its message; a live row is
        rendered now, in the claim's transaction, and kept so (see
        :func:`storage.outbox.add_live` for why here). None when another sender took it
        first (or by an earlier claim of the same row), or there is nothing left to send
        (a live row whose rendering raised is failed)."""
        claimed: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._claims.append((row, claimed))
        self._claimed.set()
        self._start()
        return await claimed

    def record(
        self, row: Delivery, outcome: Outcome, inactive: int | None = None
    ) -> asyncio.Future[None]:
        """Write ``outcome`` soon, in a transaction with other writes. The future returned
        is done once it is committed (or given up): a row never claimed stays ``pending``
        until then, and a look at the due rows would read it again."""
        settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outcomes.append(Recorded(outcome, row.broadcast_id is not None, inactive, settled))
        self._start()
        return settled

    async def flush(self) -> None:
        """Until everything handed in has been written."""
        self._hurry += 1
        self._claimed.set()
        try:
            while self._task is not None:
                await asyncio.shield(self._task)
        finally:
            self._hurry -= 1

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            while self._claims or self._outcomes:
                if not self._claims and not self._hurry:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(RIDE_SECONDS):
                            await self._claimed.wait()
                claims, self._claims = self._claims, []
                outcomes, self._outcomes = self._outcomes, []
                self._claimed.clear()
                try:
                    await self._write(claims, outcomes)
                finally:
                    for recorded in outcomes:
                        if not recorded.settled.done():
                            recorded.settled.set_result(None)
        finally:
            self._task = None

    async def _write(
        self,
        claims: list[tuple[Delivery, asyncio.Future[dict[str, Any] | None]]],
        outcomes: list[Recorded],
    ) -> None:
        if claims:
            try:
                async with self._transaction() as session:
                    found = await self._claim(session, [row for row, _ in claims])
                    await self._record(session, outcomes)
            except Exception as error:
                log.warning("claiming deliveries failed: %r", error)
                for _, claimed in claims:
                    if not claimed.done():
                        claimed.set_exception(error)
            else:
                self._count(outcomes)
                for row, claimed in claims:  # a row claimed twice is sent by the first only
                    if not claimed.done():
                        claimed.set_result(found.pop(row.id, None))
                return
        if outcomes:
            await self._record_until_written(outcomes)

    async def _record_until_written(self, outcomes: list[Recorded]) -> None:
        attempt = 0
        while True:
            try:
                async with self._transaction() as session:
                    await self._record(session, outcomes)
                break
            except (IntegrityError, DataError, ProgrammingError):
                if len(outcomes) > 1:
                    log.warning("recording %d deliveries refused; one at a time", len(outcomes))
                    for recorded in outcomes:
                        await self._record_until_written([recorded])
                    return
                log.exception(
                    "recording delivery %s refused; it stays 'sending'",
                    outcomes[0].outcome.delivery_id,
                )
                return
            except (DBAPIError, OSError) as error:
                wait = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
                attempt += 1
                log.warning(
                    "recording %d deliveries failed, trying again in %.1f s: %s",
                    len(outcomes),
                    wait,
                    type(error).__name__,
                )
                await asyncio.sleep(wait)
            except Exception:
                log.exception("recording %d deliveries failed; they stay 'sending'", len(outcomes))
                return
        self._count(outcomes)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._writing, self.app.sessions() as session, session.begin():
            yield session

    async def _claim(
        self, session: AsyncSession, rows: list[Delivery]
    ) -> dict[int, dict[str, Any] | None]:
        """Claim ``rows`` in one statement; each live row under its lock, rendered. A row
        given twice (two channels' loops read it) is claimed once."""
        rows = list({row.id: row for row in rows}.values())
        plain = [row.id for row in rows if row.coalesce_key is None]
        found: dict[int, dict[str, Any] | None] = {}
        if plain:
            found.update(await outbox.claim_many(session, plain))
        for row in sorted((r for r in rows if r.coalesce_key is not None), key=_live_key):
            found[row.id] = await self._claim_live(session, row)
        return found

    async def _claim_live(self, session: AsyncSession, row: Delivery) -> dict[str, Any] | None:
        """Claim and render a live row in a savepoint: a row whose renderer raises is
        failed (logged), not claimed, and the batch's other claims go on."""
        assert row.coalesce_key is not None
        await outbox.lock_live(session, row.coalesce_key)
        try:
            async with session.begin_nested():
                return await self._render_live(session, row)
        except Exception as error:
            log.exception("claiming live delivery %s failed; it is failed", row.id)
            reason = f"render failed: {type(error).__name__}"
            await outbox.record(session, [row.id], DeliveryStatus.FAILED, self.clock(), reason)
            return None

    async def _render_live(self, session: AsyncSession, row: Delivery) -> dict[str, Any] | None:
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

    async def _record(self, session: AsyncSession, outcomes: list[Recorded]) -> None:
        if not outcomes:
            return
        now = self.clock()
        await outbox.record_outcomes(session, [r.outcome for r in outcomes], now)
        for inactive in {r.inactive for r in outcomes if r.inactive is not None}:
            await members.mark_inactive(session, inactive)
        if any(r.broadcast for r in outcomes):
            await outbox.close_finished(session, now)

    def _count(self, outcomes: list[Recorded]) -> None:
        for recorded in outcomes:
            status = recorded.outcome.status
            metrics.SENDS.labels("retry" if status is DeliveryStatus.PENDING else status).inc()
            if status is DeliveryStatus.SENT:
                self.stats.sent += 1
            elif status is DeliveryStatus.FAILED:
                self.stats.failed += 1
            elif status is DeliveryStatus.BLOCKED:
                self.stats.blocked += 1
            else:
                self.stats.retried += 1


def _live_key(row: Delivery) -> tuple[str, int]:
    """Live rows locked in one order, so two transactions never wait on each other."""
    return (row.coalesce_key or "", row.id)
