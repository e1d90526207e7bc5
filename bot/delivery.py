"""Messages to members who did not just write: broadcasts, introductions, reminders.

Each goes to the member's most recently used active identity. If that identity's channel
runs in this process it is sent at once; otherwise it is queued in ``queued_messages`` for
the process that runs that channel. A channel that reports the member blocked the bot has
the identity marked inactive, and the message is not retried.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.base import Channel, RecipientBlocked
from bot.context import MessageBuilder
from bot.i18n import Translations
from bot.messages import Outgoing, from_json, to_json
from storage import members
from storage.models import Identity, Member, QueuedMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    identity_id: int
    channel: str
    external_id: str
    message: Outgoing


class Messenger:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], translations: Translations):
        self._sessions = sessions
        self._translations = translations
        self.channels: dict[str, Channel] = {}

    def attach(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    async def deliver(self, outbox: Iterable[tuple[int, MessageBuilder]]) -> None:
        """Render each message in its recipient's language, then send or queue it."""
        outbox = list(outbox)
        if not outbox:
            return
        async with self._sessions() as session, session.begin():
            sends = await self._route(session, outbox)
        for delivery in sends:
            await self._send(delivery)

    async def _route(
        self, session: AsyncSession, outbox: list[tuple[int, MessageBuilder]]
    ) -> list[Delivery]:
        sends = []
        for member_id, build in outbox:
            member = await session.get(Member, member_id)
            identity = await members.preferred_identity(session, member_id)
            if member is None or identity is None:
                log.info("member %s has no active identity; message dropped", member_id)
                continue
            message = build(self._translations[member.language])
            if identity.channel in self.channels:
                sends.append(Delivery(identity.id, identity.channel, identity.external_id, message))
            else:
                session.add(QueuedMessage(identity_id=identity.id, body=to_json(message)))
        return sends

    async def _send(self, delivery: Delivery) -> None:
        channel = self.channels[delivery.channel]
        try:
            await channel.send(delivery.external_id, delivery.message)
        except RecipientBlocked:
            log.info("identity %s blocked the bot; marked inactive", delivery.identity_id)
            async with self._sessions() as session, session.begin():
                await members.mark_inactive(session, delivery.identity_id)
        except Exception:
            log.exception("sending to identity %s failed; queued", delivery.identity_id)
            async with self._sessions() as session, session.begin():
                session.add(
                    QueuedMessage(identity_id=delivery.identity_id, body=to_json(delivery.message))
                )

    async def take_queued(self, channel: str, external_id: str) -> list[Outgoing]:
        """Remove and return the messages waiting for one identity, oldest first."""
        async with self._sessions() as session, session.begin():
            queued = (
                await session.scalars(
                    select(QueuedMessage)
                    .join(Identity, Identity.id == QueuedMessage.identity_id)
                    .where(Identity.channel == channel, Identity.external_id == external_id)
                    .order_by(QueuedMessage.id)
                )
            ).all()
            if queued:
                await session.execute(
                    delete(QueuedMessage).where(QueuedMessage.id.in_([q.id for q in queued]))
                )
        return [from_json(q.body) for q in queued]
