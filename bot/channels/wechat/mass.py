"""Broadcasts by WeChat mass send: the channel's bulk step, before its per-member sends.

A notice to 200,000 followers would otherwise be 200,000 customer-service messages, most
refused outside the 48-hour window. ``message/mass/send`` takes up to 10,000 OpenIDs a
call and reaches each follower up to 4 times a month, so the due rows of a non-urgent
broadcast for WeChat members with a mass send left go in batches of one language
(:mod:`storage.wechat_mass` claims them, taking the allowance); the others, and members
left alone in their language, stay for the per-member routes. An urgent broadcast goes
per member (templates first), as do reminders.

A mass message is the same for everyone: the notice's text and links
(:func:`~bot.channels.wechat.render.mass_text`), no numbered options, no image.

Exactly once: the batch is committed before the call with its ``clientmsgid``. When the
call times out, the connection drops or WeChat is busy, the batch stays claimed and is
called again (after a minute: WeChat refuses a clientmsgid repeated sooner, 45066); if
WeChat had taken it, it answers 45065 with the first msg_id and sends nothing again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx

from bot.channels.wechat.api import (
    BUSY_ERRORS,
    MASS_TOO_SOON,
    SLOW_DOWN_ERRORS,
    WeChatApi,
    WeChatApiError,
    http_failure,
)
from bot.channels.wechat.render import mass_text
from bot.delivery import MessageClass
from bot.messages import from_json
from storage import wechat_mass
from storage.wechat_mass import Batch

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(minutes=1)
"""How long a batch in doubt waits before it is called again (WeChat's 45066 rule)."""
PRIORITY = MessageClass.BROADCAST.value.priority


class MassSender:
    def __init__(self, app: App, api: WeChatApi) -> None:
        self.app = app
        self.api = api
        self._hold_until: datetime | None = None
        self.calls = 0
        """mass/send calls made by this process (the benchmark reports them)."""

    async def send_bulk(self, now: datetime) -> int:
        """Hand the due broadcast rows that may go by mass send to WeChat; returns how
        many rows were handed over (or went back to the per-member routes)."""
        if self._hold_until is not None and now < self._hold_until:
            return 0
        self._hold_until = None
        handled = 0
        async with self.app.sessions() as session, session.begin():
            waiting = await wechat_mass.in_doubt(session)
        for batch in waiting:
            if not await self._hand_over(batch, now):
                return handled
            handled += len(batch.delivery_ids)
        async with self.app.sessions() as session:
            due = await wechat_mass.groups(session, now, PRIORITY)
        for group in due:
            while True:
                async with self.app.sessions() as session, session.begin():
                    claimed = await wechat_mass.claim(session, now, PRIORITY, group)
                if claimed is None:
                    break
                if not await self._hand_over(claimed, now):
                    return handled
                handled += len(claimed.delivery_ids)
        return handled

    async def _hand_over(self, batch: Batch, now: datetime) -> bool:
        """One mass/send call for ``batch`` and its outcome recorded; False when it must
        wait to be tried again (the batch stays claimed)."""
        t = self.app.outbox.translator(batch.language)
        text = mass_text(from_json(batch.body), t)
        self.calls += 1
        try:
            msg_id = await self.api.send_mass_text(batch.openids, text, batch.clientmsgid)
        except WeChatApiError as error:
            temporary = (
                error.errcode in BUSY_ERRORS
                or error.errcode in SLOW_DOWN_ERRORS
                or error.errcode == MASS_TOO_SOON
            )
            if temporary:
                return self._hold(batch, now, str(error))
            log.warning("WeChat refused mass send %s: %s", batch.clientmsgid, error)
            async with self.app.sessions() as session, session.begin():
                await wechat_mass.refused(session, batch, str(error.errcode), now)
            return True
        except httpx.HTTPError as error:
            return self._hold(batch, now, http_failure(error))
        async with self.app.sessions() as session, session.begin():
            await wechat_mass.accepted(session, batch, msg_id, now)
        log.info(
            "mass send %s (%d followers) taken by WeChat as %s",
            batch.clientmsgid,
            len(batch.openids),
            msg_id,
        )
        return True

    def _hold(self, batch: Batch, now: datetime, reason: str) -> bool:
        log.warning(
            "mass send %s in doubt (%s); trying again in %s", batch.clientmsgid, reason, RETRY_AFTER
        )
        self._hold_until = now + RETRY_AFTER
        return False
