"""Writing a broadcast: render each recipient's message in their language, hold it for
their quiet hours unless urgent, and store one outbox row per recipient before any send."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import MessageBuilder
from bot.i18n import Translations
from bot.messages import to_json
from bot.quiet import member_window, release_time
from bot.settings import Settings
from storage import member_settings, outbox
from storage.models import Broadcast, Member


async def publish(
    session: AsyncSession,
    settings: Settings,
    translations: Translations,
    key: str,
    recipients: Sequence[tuple[int, MessageBuilder]],
    now: datetime,
    *,
    notice_id: int | None = None,
    urgent: bool = False,
) -> Broadcast | None:
    """Write the broadcast ``key`` and its rows; None when ``key`` was written before."""
    broadcast = await outbox.create_broadcast(session, key, notice_id, urgent, now)
    if broadcast is None:
        return None
    ids = list(dict.fromkeys(member_id for member_id, _ in recipients))
    languages: dict[int, str] = {}
    for start in range(0, len(ids), 1000):
        rows = await session.execute(
            select(Member.id, Member.language).where(Member.id.in_(ids[start : start + 1000]))
        )
        languages.update({member_id: language for member_id, language in rows})
    chosen = await member_settings.settings_for(session, ids)
    rendered: dict[tuple[int, str], dict[str, Any]] = {}
    rows_: list[outbox.Recipient] = []
    seen: set[int] = set()
    for member_id, build in recipients:
        language = languages.get(member_id)
        if language is None or member_id in seen:
            continue
        seen.add(member_id)
        cache_key = (id(build), language)
        if cache_key not in rendered:
            rendered[cache_key] = to_json(build(translations[language]))
        window = None if urgent else member_window(settings, chosen.get(member_id))
        rows_.append(
            outbox.Recipient(
                member_id, rendered[cache_key], release_time(now, window, settings.zone)
            )
        )
    await outbox.add_recipients(session, broadcast, rows_)
    return broadcast
