"""The WeChat channel's side of the quota ledger (:mod:`storage.wechat_quota`): each
reservation committed on its own before the call to WeChat, and settled after it.

Reserving in a commit of its own, as the sender claims a row before the call, is what
keeps two senders from both using the last slot; the delivery row then records the route
taken. If WeChat surely did not send (it refused, was busy, or said to slow down) the slot
is given back; if nothing is known (no answer) it stays used, which can only make the bot
send less than it may. A crash between the reservation and the record leaves a slot used
and the row ``sending`` (marked interrupted, never sent again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.messages import Outgoing
from storage import wechat_quota
from storage.models import Identity
from storage.types import utcnow
from storage.wechat_quota import Slot

TEMPLATE_TEXT_LIMIT = 180
TEMPLATE_TITLE_LIMIT = 20
"""WeChat cuts a template's ``thing`` fields at 20 characters."""


class Ledger:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], daily_templates: int) -> None:
        self._sessions = sessions
        self._daily_templates = daily_templates

    async def open_event(self, identity: Identity) -> None:
        """A menu click, follow or scan by a member already known: the minute after it."""
        async with self._sessions() as session, session.begin():
            await wechat_quota.open_event(session, identity.id, identity.last_seen_at, utcnow())

    async def opened_by_new_follower(self, identity_id: int) -> None:
        async with self._sessions() as session, session.begin():
            await wechat_quota.open_event(session, identity_id, None, utcnow())

    async def customer_service(
        self, identity: Identity, count: int, wrote_at: datetime | None = None
    ) -> Slot | str:
        """``count`` customer-service messages reserved, or why there are none.
        ``wrote_at``: the member's message being answered, newer than ``last_seen_at``
        may say (the core refreshes it every few minutes only)."""
        now = utcnow()
        last_seen = max(identity.last_seen_at, wrote_at or identity.last_seen_at)
        async with self._sessions() as session, session.begin():
            slot = await wechat_quota.take_customer_service(
                session, identity.id, last_seen, now, count
            )
            if slot is None:
                return await wechat_quota.why_not(session, identity.id, now)
        return slot

    async def give_back(self, identity: Identity, slot: Slot, count: int) -> None:
        async with self._sessions() as session, session.begin():
            await wechat_quota.give_back(session, identity.id, slot, count)

    async def spend_all(self, identity: Identity, slot: Slot) -> None:
        async with self._sessions() as session, session.begin():
            await wechat_quota.spend_all(session, identity.id, slot)

    async def template(self, identity: Identity) -> int | None:
        """One template message reserved: how many the account has left today, or None."""
        async with self._sessions() as session, session.begin():
            return await wechat_quota.take_template(
                session, identity.id, utcnow(), self._daily_templates
            )

    async def give_back_template(self, identity: Identity) -> None:
        async with self._sessions() as session, session.begin():
            await wechat_quota.give_back_template(session, identity.id, utcnow())

    async def templates_spent(self) -> None:
        async with self._sessions() as session, session.begin():
            await wechat_quota.spend_templates(session, utcnow(), self._daily_templates)


@dataclass(frozen=True)
class TemplateFields:
    """What a template message carries of the messages: ``{{title.DATA}}`` (the first
    line, at most 20 characters), ``{{content.DATA}}`` (the text, at most 180), the first
    link button as the template's link; ``complete`` when nothing is left out."""

    fields: dict[str, str]
    url: str | None
    complete: bool


def template_fields(messages: Sequence[Outgoing]) -> TemplateFields | None:
    """None when there is no text to carry."""
    text = "\n".join(m.text for m in messages)
    if not text.strip():
        return None
    short = text if len(text) <= TEMPLATE_TEXT_LIMIT else text[: TEMPLATE_TEXT_LIMIT - 1] + "…"
    title = text.strip().splitlines()[0]
    if len(title) > TEMPLATE_TITLE_LIMIT:
        title = title[: TEMPLATE_TITLE_LIMIT - 1] + "…"
    urls = [b.url for m in messages for row in m.buttons for b in row if b.url]
    payloads = any(b.payload for m in messages for row in m.buttons for b in row)
    complete = short == text and not payloads and len(urls) <= 1
    complete = complete and not any(m.image for m in messages)
    return TemplateFields({"title": title, "content": short}, urls[0] if urls else None, complete)
