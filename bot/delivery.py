"""Messages to members who did not just write: broadcasts, introductions, reminders.

Each goes to the member's most recently used active identity. If that identity's channel
runs in this process it is sent at once; otherwise it is queued in ``queued_messages`` for
the process that runs that channel. A channel that reports the member blocked the bot has
the identity marked inactive, and the message is not retried. A message the channel could
not send for now (``RateLimited``, ``TemporaryFailure``, a network error) is queued to be
tried again when the queue is next drained; one the platform refused as it is (any other
exception) is logged with the reason and dropped, not queued again and again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.base import Channel, RateLimited, RecipientBlocked, TemporaryFailure
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
        except (RateLimited, TemporaryFailure, OSError, TimeoutError) as error:
            log.warning("sending to identity %s failed, queued: %s", delivery.identity_id, error)
            async with self._sessions() as session, session.begin():
                session.add(
                    QueuedMessage(identity_id=delivery.identity_id, body=to_json(delivery.message))
                )
        except Exception as error:
            # The channel's contract: anything else is a permanent refusal of this message
            # (Telegram's 400 for a message as it is); sending it again would fail again.
            log.error(
                "the %s channel refused a message to identity %s; dropped: %s: %s",
                delivery.channel,
                delivery.identity_id,
                type(error).__name__,
                error,
            )

    async def take_queued(self, channel: str, external_id: str) -> list[Outgoing]:
        """Remove and return the messages waiting for one identity, oldest first."""
        taken = await self._take(
            select(Identity.id).where(
                Identity.channel == channel, Identity.external_id == external_id
            )
        )
        return [message for _, message in taken]

    async def drain(self, channel: str) -> int:
        """Send what waits for this channel's identities; returns how many were taken."""
        taken = await self._take(select(Identity.id).where(Identity.channel == channel))
        if not taken:
            return 0
        async with self._sessions() as session:
            rows = await session.execute(
                select(Identity.id, Identity.external_id).where(
                    Identity.id.in_({identity_id for identity_id, _ in taken})
                )
            )
            external_ids = {identity_id: external_id for identity_id, external_id in rows}
        for identity_id, message in taken:
            external_id = external_ids[identity_id]
            await self._send(Delivery(identity_id, channel, external_id, message))
        return len(taken)

    async def _take(self, identities: Select[int]) -> list[tuple[int, Outgoing]]:
        """Delete and return queued messages; DELETE ... RETURNING gives each one to exactly
        one process even when several drain the same queue."""
        async with self._sessions() as session, session.begin():
            rows = await session.execute(
                delete(QueuedMessage)
                .where(QueuedMessage.identity_id.in_(identities.scalar_subquery()))
                .returning(QueuedMessage.id, QueuedMessage.identity_id, QueuedMessage.body)
            )
            taken = sorted(rows.all())
        return [(identity_id, from_json(body)) for _, identity_id, body in taken]
