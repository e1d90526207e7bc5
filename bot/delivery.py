"""One way out: everything the bot says to a member, other than the direct reply to what
that member just did, is an outbox row written in the transaction that decided to say it.

A handler's ``ctx.send`` (introductions, meeting relays, election invitations...), a
reminder's fan-out, a broadcast and ``unionbot close-ballots`` all come here. So a message
is saved exactly when the change that caused it is saved, a crash after the commit loses
nothing, and only the leader's sender (:mod:`bot.sender`) talks to the platforms, through
one pacer per channel. The console, which only ``unionbot chat`` runs, takes its own rows
(:meth:`Outbox.take`).

The API, kept small for the services and channels that build on it:

- :class:`MessageClass`: what a message is decides its priority (the sender drains
  interactive messages before reminders before broadcasts) and whether the recipient's
  quiet hours hold it (every class but ``REPLY``; ``urgent=True`` lifts them).
- ``await outbox.write(session, messages, cls, now, *, broadcast=None, urgent=False,
  coalesce=None)``: render each ``(member_id, build)`` in the member's language, hold it
  for their quiet hours by class, and add the rows to ``session``'s transaction. Rows of a
  member with the same ``coalesce`` key (``meeting:5``) still waiting when the sender
  reaches them go out as one message: a watcher who is behind gets one message.
- ``outbox.wake()`` once the transaction has committed (``if outbox.written(session)``):
  the sender of this process looks at once. On PostgreSQL :func:`storage.outbox.add` also
  sends ``NOTIFY``, which wakes a leader in another process at commit.
- ``await outbox.keep_replies(channel, user_id, replies)``: a direct reply that the
  channel could not deliver after its own retries (a second 429) becomes a ``REPLY`` row,
  so a committed check-in code or receipt still reaches the member.
- ``outbox.attach(channel)``: the channels this process's sender sends through.
- ``await outbox.take(channel)``: mark the due rows of members whose preferred identity is
  on ``channel`` sent and return them (the console prints them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.base import Channel
from bot.context import MessageBuilder
from bot.i18n import Translations
from bot.messages import Outgoing, from_json, to_json
from bot.quiet import member_window, release_time
from bot.settings import Settings
from storage import members, outbox
from storage.types import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    priority: int
    """Lower goes first."""
    quiet: bool
    """Held until the recipient's quiet hours end."""


class MessageClass(Enum):
    REPLY = Kind(0, quiet=False)
    """A direct reply the channel could not deliver: the member is waiting for it."""
    INTERACTIVE = Kind(0, quiet=True)
    """What one member's action causes for another: an introduction, a relay, a tally."""
    REMINDER = Kind(1, quiet=True)
    BROADCAST = Kind(2, quiet=True)


WRITTEN = "outbox_written"
"""Set in a session's ``info`` once :meth:`Outbox.write` added rows: wake the sender after
its commit (:meth:`Outbox.written`)."""


class Outbox:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        translations: Translations,
    ) -> None:
        self.settings = settings
        self._sessions = sessions
        self._translations = translations
        self.channels: dict[str, Channel] = {}
        self._wakers: list[Callable[[], None]] = []

    def attach(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    def on_wake(self, wake: Callable[[], None]) -> None:
        self._wakers.append(wake)

    def wake(self) -> None:
        for wake in self._wakers:
            wake()

    def written(self, session: AsyncSession) -> bool:
        """Whether this session's transaction wrote rows (then :meth:`wake` after commit)."""
        return bool(session.info.pop(WRITTEN, False))

    async def write(
        self,
        session: AsyncSession,
        messages: Iterable[tuple[int, MessageBuilder]],
        cls: MessageClass,
        now: datetime,
        *,
        broadcast: int | None = None,
        urgent: bool = False,
        coalesce: str | None = None,
    ) -> int:
        """Add one row per message to ``session``; returns how many. A broadcast has one
        row per member, so a member listed twice gets the first message only."""
        messages = list(messages)
        if not messages:
            return 0
        found = await outbox.recipients(session, [member_id for member_id, _ in messages])
        rendered: dict[tuple[int, str], dict[str, Any]] = {}
        rows: list[outbox.Row] = []
        seen: set[int] = set()
        for member_id, build in messages:
            if member_id not in found or (broadcast is not None and member_id in seen):
                continue
            seen.add(member_id)
            language, chosen = found[member_id]
            cache_key = (id(build), language)
            if cache_key not in rendered:
                rendered[cache_key] = to_json(build(self._translations[language]))
            quiet = cls.value.quiet and not urgent
            window = member_window(self.settings, chosen) if quiet else None
            rows.append(
                outbox.Row(
                    member_id,
                    rendered[cache_key],
                    release_time(now, window, self.settings.zone),
                    cls.value.priority,
                    coalesce,
                )
            )
        await outbox.add(session, rows, broadcast)
        session.info[WRITTEN] = True
        return len(rows)

    async def keep_replies(self, channel: str, user_id: str, replies: Sequence[Outgoing]) -> None:
        """Direct replies the channel could not deliver, kept to be sent as soon as may be."""
        if not replies:
            return
        now = utcnow()
        async with self._sessions() as session, session.begin():
            member = await members.member_by_identity(session, channel, user_id)
            if member is None:
                log.warning("replies to an unknown %s user dropped", channel)
                return
            rows = [
                outbox.Row(member.id, to_json(reply), now, MessageClass.REPLY.value.priority)
                for reply in replies
            ]
            await outbox.add(session, rows)
        log.info("%d replies to a %s member kept in the outbox", len(rows), channel)
        self.wake()

    async def take(self, channel: str) -> list[tuple[str, Outgoing]]:
        """The due messages for ``channel``'s members, oldest first, marked sent."""
        async with self._sessions() as session, session.begin():
            taken = await outbox.take(session, channel, utcnow())
        return [(external_id, from_json(body)) for external_id, body in taken]
