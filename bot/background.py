"""The work only the leader does: run scheduled jobs and the sender.

Every serving process (``run``, ``serve``, ``chat``, ``demo``) starts a
:class:`Background`; it competes for leadership (:mod:`bot.leader`) and, while it leads,
resumes the scheduler, wakes it periodically, expands recorded broadcasts into outbox rows
(:class:`~bot.broadcasting.Expander`) and runs the sender over the channels attached to
``app.outbox``. When it stops leading, or stops, the sender finishes the
send under way first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from bot import reminders
from bot.broadcasting import Expander
from bot.leader import Leadership, lock_for
from bot.sender import Sender

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 30.0


class Background:
    def __init__(self, app: App) -> None:
        self.app = app
        self.sender = Sender(app)
        self.expander = Expander(app)
        self.leadership = Leadership(
            lock_for(app.settings.database_url), app.settings.leader_check_seconds
        )
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.leadership.run()),
            asyncio.create_task(self._lead_when_elected()),
        ]

    async def _lead_when_elected(self) -> None:
        while True:
            await self.leadership.leading.wait()
            stop = asyncio.Event()
            reminders.bind(self.app)
            self.app.jobs.lead()
            sending = asyncio.create_task(self.sender.run(stop))
            expanding = asyncio.create_task(self.expander.run(stop))
            try:
                while not self.leadership.deposed.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self.leadership.deposed.wait(),
                            self.app.settings.scheduler_wakeup_seconds,
                        )
                    self.app.jobs.wakeup()
            finally:
                stop.set()
                self.sender.wake()
                self.expander.wake()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(sending), STOP_TIMEOUT_SECONDS)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(expanding), STOP_TIMEOUT_SECONDS)
                self.app.jobs.follow()

    async def stop(self) -> None:
        """Stop leading: the send under way finishes, then the lock is released."""
        for task in reversed(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        self.app.jobs.follow()
