"""Writing a broadcast: one batch of outbox rows under a unique key, so that a job run again
after a crash finds its batch written and sends nothing more (see :mod:`bot.delivery`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import MessageBuilder
from bot.delivery import MessageClass, Outbox
from storage import outbox as store
from storage.models import Broadcast


async def publish(
    session: AsyncSession,
    outbox: Outbox,
    key: str,
    recipients: Sequence[tuple[int, MessageBuilder]],
    now: datetime,
    *,
    cls: MessageClass = MessageClass.BROADCAST,
    notice_id: int | None = None,
    urgent: bool = False,
) -> Broadcast | None:
    """Write the broadcast ``key`` and its rows; None when ``key`` was written before."""
    broadcast = await store.create_broadcast(session, key, notice_id, urgent, now)
    if broadcast is None:
        return None
    written = await outbox.write(
        session, recipients, cls, now, broadcast=broadcast.id, urgent=urgent
    )
    if not written:
        broadcast.finished_at = broadcast.created_at
    return broadcast
