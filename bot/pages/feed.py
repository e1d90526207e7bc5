"""What live viewers of a meeting are pushed: one poller per meeting, however many watch.

A statement is written by whichever process took the speaker's message (``run``,
``serve``, another ``serve`` behind the same balancer), so the page cannot wait for an
in-process signal: the feed asks the database every :data:`POLL_SECONDS` for statements
after the last one it saw and for the session's step, and hands each change to every
viewer's queue. Five hundred viewers of one meeting cost one small query per poll, not
five hundred; the poller stops when the last viewer leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import meeting
from storage.models.bargaining import BargainingSession, MeetingStatement

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
"""Between polls; with the time to render and send, a statement reaches viewers in well
under the second the page promises."""
QUEUE_LIMIT = 256
"""Changes a viewer may fall behind by; a viewer further behind is dropped, and its browser
reconnects and catches up from the last statement it showed (``Last-Event-ID``)."""


@dataclass(frozen=True)
class Change:
    """New statements and the session's step and meeting state after them."""

    statements: Sequence[MeetingStatement]
    step: int
    meeting_open: bool
    rendered: dict[str, list[str]] = field(default_factory=dict, compare=False)
    """The change as event-stream text per language, made by its first viewer in that
    language: hundreds of viewers format a statement once, not once each."""


@dataclass
class _Topic:
    last_seq: int
    viewers: set[asyncio.Queue[Change | None]] = field(default_factory=set)
    task: asyncio.Task[None] | None = None


class MeetingFeed:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], poll_seconds: float = POLL_SECONDS
    ) -> None:
        self._sessions = sessions
        self._poll_seconds = poll_seconds
        self._topics: dict[int, _Topic] = {}

    @contextlib.asynccontextmanager
    async def watch(self, session_id: int) -> AsyncIterator[asyncio.Queue[Change | None]]:
        """A queue of this meeting's changes from now on; ``None`` in it means "fell behind"."""
        topic = self._topics.get(session_id)
        if topic is None:
            async with self._sessions() as session:
                last = await session.scalar(
                    select(func.max(MeetingStatement.seq)).where(
                        MeetingStatement.session_id == session_id
                    )
                )
            topic = self._topics.setdefault(session_id, _Topic(last or 0))
        queue: asyncio.Queue[Change | None] = asyncio.Queue(QUEUE_LIMIT)
        topic.viewers.add(queue)
        if topic.task is None:
            topic.task = asyncio.create_task(self._poll(session_id, topic))
        try:
            yield queue
        finally:
            topic.viewers.discard(queue)
            if not topic.viewers and self._topics.get(session_id) is topic:
                del self._topics[session_id]
                topic.task.cancel()

    def viewers(self, session_id: int) -> int:
        topic = self._topics.get(session_id)
        return len(topic.viewers) if topic else 0

    async def _poll(self, session_id: int, topic: _Topic) -> None:
        state: tuple[int, bool] | None = None
        while True:
            try:
                async with self._sessions() as session:
                    statements = await meeting.statements_after(session, session_id, topic.last_seq)
                    bs = await session.get(BargainingSession, session_id)
            except Exception:
                log.exception("reading meeting %s for its live viewers failed", session_id)
                await asyncio.sleep(self._poll_seconds * 4)
                continue
            now = (bs.step, meeting.meeting_is_open(bs)) if bs else (0, False)
            if statements or now != state:
                if statements:
                    topic.last_seq = statements[-1].seq
                state = now
                self._publish(topic, Change(statements, now[0], now[1]))
            await asyncio.sleep(self._poll_seconds)

    @staticmethod
    def _publish(topic: _Topic, change: Change) -> None:
        for queue in list(topic.viewers):
            try:
                queue.put_nowait(change)
            except asyncio.QueueFull:
                topic.viewers.discard(queue)
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(None)
