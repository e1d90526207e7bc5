"""Queries for the WeChat channel: messages already taken, the shared access token,
numbered choices and the inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Identity
from storage.models.wechat import (
    WechatChoices,
    WechatInboxMessage,
    WechatSeenMessage,
    WechatToken,
)

CHANNEL = "wechat"


async def first_sight(session: AsyncSession, key: str, now: datetime) -> bool:
    """Record a webhook message key; False if any process recorded it before.

    Commits on its own, so a concurrent retry in another process waits for this one and
    then finds the key taken.
    """
    session.add(WechatSeenMessage(key=key[:200], seen_at=now))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True


async def forget_seen_before(session: AsyncSession, cutoff: datetime) -> None:
    await session.execute(delete(WechatSeenMessage).where(WechatSeenMessage.seen_at < cutoff))


async def lock_token(session: AsyncSession, app_id: str, now: datetime) -> WechatToken:
    """The token row, locked for this transaction (created, expired, when missing)."""
    query = select(WechatToken).where(WechatToken.app_id == app_id).with_for_update()
    row = await session.scalar(query)
    if row is not None:
        return row
    try:
        async with session.begin_nested():
            session.add(WechatToken(app_id=app_id, access_token="", expires_at=now))
    except IntegrityError:
        pass
    row = await session.scalar(query.execution_options(populate_existing=True))
    assert row is not None
    return row


async def save_choices(
    session: AsyncSession, openid: str, payloads: list[str], now: datetime
) -> None:
    """Remember the options just shown (replacing the last ones), in one statement."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    values = {"openid": openid, "payloads": {"p": payloads}, "updated_at": now}
    statement = insert(WechatChoices).values(values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[WechatChoices.openid],
            set_={"payloads": statement.excluded.payloads, "updated_at": now},
        )
    )


async def choice(session: AsyncSession, openid: str, number: int) -> str | None:
    """The payload of the button numbered ``number`` in the last message, if any."""
    row = await session.get(WechatChoices, openid)
    payloads: list[str] = row.payloads.get("p", []) if row is not None else []
    return payloads[number - 1] if 1 <= number <= len(payloads) else None


async def identity(session: AsyncSession, openid: str) -> Identity | None:
    return await session.scalar(
        select(Identity).where(Identity.channel == CHANNEL, Identity.external_id == openid)
    )


async def keep_in_inbox(
    session: AsyncSession, identity_id: int, body: dict[str, Any], reason: str
) -> None:
    session.add(WechatInboxMessage(identity_id=identity_id, body=body, reason=reason[:32]))


async def inbox_count(session: AsyncSession, openid: str) -> int:
    count = await session.scalar(
        select(func.count(WechatInboxMessage.id))
        .join(Identity, Identity.id == WechatInboxMessage.identity_id)
        .where(Identity.channel == CHANNEL, Identity.external_id == openid)
    )
    return count or 0


async def take_inbox(session: AsyncSession, member_id: int) -> list[dict[str, Any]]:
    """Remove and return the member's waiting messages, oldest first."""
    rows = await session.execute(
        delete(WechatInboxMessage)
        .where(
            WechatInboxMessage.identity_id.in_(
                select(Identity.id).where(Identity.member_id == member_id).scalar_subquery()
            )
        )
        .returning(WechatInboxMessage.id, WechatInboxMessage.body)
    )
    return [body for _, body in sorted(rows.all(), key=lambda row: row[0])]
