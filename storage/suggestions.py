"""The bargaining suggestion box: members suggest, the chair adopts or answers.

An anonymous suggestion still keeps its author, so that they can be told what became of
it; only the chair's view leaves the name out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Member
from storage.models.bargaining import Suggestion
from storage.refusals import Refused

SUGGESTIONS_SHOWN = 20


async def suggest(
    session: AsyncSession,
    session_id: int,
    author_id: int,
    text: str,
    anonymous: bool,
    now: datetime,
) -> Suggestion:
    suggestion = Suggestion(
        session_id=session_id, author_id=author_id, anonymous=anonymous, text=text, created_at=now
    )
    session.add(suggestion)
    await session.flush()
    return suggestion


async def suggestions_for_chair(
    session: AsyncSession, session_id: int
) -> list[tuple[Suggestion, str | None]]:
    """Open suggestions first, each with its author's name unless they asked not to show it."""
    rows = await session.execute(
        select(Suggestion, Member.display_name)
        .outerjoin(Member, Member.id == Suggestion.author_id)
        .where(Suggestion.session_id == session_id)
        .order_by((Suggestion.status != "new"), Suggestion.id)
        .limit(SUGGESTIONS_SHOWN)
    )
    return [(s, None if s.anonymous else name) for s, name in rows]


async def mark(
    session: AsyncSession, session_id: int, suggestion_id: int, status: str, answer: str | None
) -> Suggestion:
    """Mark a suggestion of this session adopted or answered; refused if already done."""
    suggestion = await session.get(Suggestion, suggestion_id)
    if suggestion is None or suggestion.session_id != session_id:
        raise Refused("suggestions.not_found")
    if suggestion.status != "new":
        raise Refused("suggestions.already_marked")
    suggestion.status = status
    suggestion.answer = answer
    await session.flush()
    return suggestion
