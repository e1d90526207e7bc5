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
  interactive messages before reminders before broadcasts), whether the recipient's
  quiet hours hold it (every class but ``REPLY``; ``urgent=True`` lifts them, and marks
  the rows urgent), and the notification kind of reminders and broadcasts
  (``Outgoing.kind``, which picks a WeChat template; other messages say their own).
- ``await outbox.write(session, messages, cls, now, *, broadcast=None, urgent=False)``:
  render each ``(member_id, build)`` in the member's language, hold it for their quiet
  hours by class, and add the rows to ``session``'s transaction.
- ``register_live(kind, render)`` and ``await outbox.write_live(session, kind, thing_id,
  since, audience, now)``: what happens live (a meeting's statements) for an audience given
  as a query. Each member of it gets one waiting row per thing, added only if they have
  none waiting, in two SQL statements whatever the audience's size; the row is rendered
  when the sender takes it (``render(session, t, thing_id, since)``: everything since
  ``since``), so a watcher who is behind gets what they missed as one message.
- ``outbox.wake()`` once the transaction has committed (``if outbox.written(session)``):
  the sender of this process looks at once. On PostgreSQL :func:`storage.outbox.add` also
  sends ``NOTIFY``, which wakes a leader in another process at commit.
- ``await outbox.keep_replies(channel, user_id, replies)``: a direct reply that the
  channel could not deliver after its own retries (a second 429) becomes a ``REPLY`` row,
  so a committed check-in code or receipt still reaches the member.
- ``outbox.attach(channel)``: the channels this process's sender sends through; the sender
  renders a row with :func:`render` as it claims it.
- ``await outbox.take(channel)``: mark the due rows of members whose preferred identity is
  on ``channel`` sent and return them (the console prints them).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.base import Channel
from bot.context import MessageBuilder
from bot.i18n import Translations, Translator
from bot.messages import Notification, Outgoing, from_json, storable, to_json
from bot.quiet import member_window, release_time
from bot.settings import LANGUAGES, Settings
from storage import members, outbox
from storage.types import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    priority: int
    """Lower goes first."""
    quiet: bool
    """Held until the recipient's quiet hours end."""
    notification: Notification | None = None
    """The :class:`~bot.messages.Notification` of a message that does not say its own."""


class MessageClass(Enum):
    REPLY = Kind(0, quiet=False)
    """A direct reply the channel could not deliver: the member is waiting for it."""
    INTERACTIVE = Kind(0, quiet=True)
    """What one member's action causes for another: an introduction, a relay, a tally."""
    LIVE = Kind(0, quiet=False)
    """What happens now for those following it (a meeting's statements): followed live."""
    REMINDER = Kind(1, quiet=True, notification=Notification.REMINDER)
    BROADCAST = Kind(2, quiet=True, notification=Notification.NOTICE)


LiveRenderer = Callable[[AsyncSession, Translator, int, int], Awaitable[Outgoing | None]]
"""``(session, t, thing_id, since)``: the message for everything since ``since``, in the
translator's language; None when there is nothing any more (the thing is gone)."""
LIVE_RENDERERS: dict[str, LiveRenderer] = {}
LIVE = "live"
"""The body key of a row to be rendered when sent: ``{"live": kind, "thing": id, "since": n}``."""


def register_live(kind: str, render: LiveRenderer) -> None:
    LIVE_RENDERERS[kind] = render


async def render(
    session: AsyncSession, t: Translator, body: dict[str, Any]
) -> dict[str, Any] | None:
    """A row's message: its body, or for a live row what its renderer makes of it now."""
    if LIVE not in body:
        return body
    renderer = LIVE_RENDERERS.get(str(body[LIVE]))
    if renderer is None:
        log.error("no renderer for live messages of kind %s", body[LIVE])
        return None
    message = await renderer(session, t, int(body["thing"]), int(body["since"]))
    return None if message is None else to_json(message)


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
                message = build(self._translations[language])
                rendered[cache_key] = to_json(_marked(message, cls, urgent))
            quiet = cls.value.quiet and not urgent
            window = member_window(self.settings, chosen) if quiet else None
            rows.append(
                outbox.Row(
                    member_id,
                    rendered[cache_key],
                    release_time(now, window, self.settings.zone),
                    cls.value.priority,
                )
            )
        await outbox.add(session, rows, broadcast)
        session.info[WRITTEN] = True
        return len(rows)

    def rendered(
        self, build: MessageBuilder, cls: MessageClass, urgent: bool = False
    ) -> dict[str, dict[str, Any]]:
        """The message's body in each language, as :meth:`write` renders it: what a
        broadcast recorded for the leader to expand carries (:mod:`bot.broadcasting`)."""
        return {
            language: to_json(_marked(build(self._translations[language]), cls, urgent))
            for language in LANGUAGES
        }

    async def write_live(
        self,
        session: AsyncSession,
        kind: str,
        thing_id: int,
        since: int,
        audience: Select[tuple[int]],
        now: datetime,
    ) -> None:
        """A live row of ``kind`` for every member of ``audience`` who has none waiting."""
        body = {LIVE: kind, "thing": thing_id, "since": since}
        priority = MessageClass.LIVE.value.priority
        await outbox.add_live(session, audience, f"{kind}:{thing_id}", body, priority, now)
        session.info[WRITTEN] = True

    def translator(self, language: str) -> Translator:
        return self._translations[language]

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
                outbox.Row(member.id, storable(reply), now, MessageClass.REPLY.value.priority)
                for reply in replies
            ]
            await outbox.add(session, rows)
        log.info("%d replies to a %s member kept in the outbox", len(rows), channel)
        self.wake()

    async def take(self, channel: str) -> list[tuple[str, Outgoing]]:
        """The due messages for ``channel``'s members, oldest first, marked sent."""
        messages = []
        async with self._sessions() as session, session.begin():
            taken = await outbox.take(session, channel, utcnow())
            languages = await outbox.recipients(session, [member for member, _, _ in taken])
            for member_id, external_id, body in taken:
                language = languages[member_id][0] if member_id in languages else "zh_CN"
                rendered = await render(session, self._translations[language], body)
                if rendered is not None:
                    messages.append((external_id, from_json(rendered)))
        return messages


def _marked(message: Outgoing, cls: MessageClass, urgent: bool) -> Outgoing:
    """The message with its notification kind (its own, else its class's) and urgency, which
    a channel with templates (WeChat) routes by."""
    kind = message.kind or cls.value.notification
    if kind == message.kind and urgent <= message.urgent:
        return message
    return replace(message, kind=kind, urgent=message.urgent or urgent)
