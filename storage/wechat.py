"""Queries for the WeChat channel: messages already taken, the shared access token,
numbered choices and the inbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Dialect, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.message_state import MessageState, driver
from storage.models import Identity
from storage.models.wechat import (
    WechatChoices,
    WechatInboxMessage,
    WechatSeenMessage,
    WechatToken,
)

CHANNEL = "wechat"


@dataclass(frozen=True)
class Shown:
    """What rendering a reply to a WeChat user reads: their member's language (None
    without one), how many messages wait in their inbox, and the options last shown."""

    language: str | None
    waiting: int
    choices: list[str]


class WebhookRows:
    """The rows the channel reads and writes around the core for each message, each in one
    statement with the driver and no transaction of its own (as :mod:`storage.message_state`,
    whose reads on SQLite run on the event loop's thread): the key that makes a retry
    harmless, the read before rendering a reply, and the options it shows. Each takes a
    connection from the engine only when it needs one."""

    def __init__(self, state: MessageState) -> None:
        self._state = state
        self._engine = state.engine
        dialect = state.engine.dialect
        p = state.placeholder
        into = 'INSERT INTO wechat_seen_messages ("key", seen_at)'
        taken = ' ON CONFLICT ("key") DO NOTHING RETURNING "key"'
        if state.postgres:  # committed without waiting for the disk (see first_sight)
            self._seen = (
                "WITH unflushed AS (SELECT set_config('synchronous_commit', 'off', true)) "
                f"{into} SELECT CAST({p(1)} AS VARCHAR),"
                f" CAST({p(2)} AS TIMESTAMP WITH TIME ZONE) FROM unflushed{taken}"
            )
        else:
            self._seen = f"{into} VALUES ({p(1)}, {p(2)}){taken}"
        self._forget = f"DELETE FROM wechat_seen_messages WHERE seen_at < {p(1)}"
        identity = "JOIN identities i ON {on} WHERE i.channel = {c} AND i.external_id = {e}"
        self._shown = (
            "SELECT (SELECT m.language FROM members m "
            + identity.format(on="i.member_id = m.id", c=p(1), e=p(2))
            + "), (SELECT count(*) FROM wechat_inbox x "
            + identity.format(on="i.id = x.identity_id", c=p(3), e=p(4))
            + f"), (SELECT payloads FROM wechat_choices WHERE openid = {p(5)})"
        )
        self._choices = f"SELECT payloads FROM wechat_choices WHERE openid = {p(1)}"
        self._save = (
            "INSERT INTO wechat_choices (openid, payloads, updated_at)"
            f" VALUES ({p(1)}, {p(2)}, {p(3)}) ON CONFLICT (openid) DO UPDATE"
            " SET payloads = excluded.payloads, updated_at = excluded.updated_at"
        )
        seen, choices = WechatSeenMessage.__table__.c, WechatChoices.__table__.c
        self._time = _bind(seen.seen_at, dialect)
        self._payloads = _bind(choices.payloads, dialect)
        self._read_payloads = choices.payloads.type.dialect_impl(dialect).result_processor(
            dialect, None
        )

    async def first_sight(self, key: str, now: datetime) -> bool:
        """Record a webhook message key; False if any process recorded it before. The
        insert commits by itself, so a retry in another process waits for it and then finds
        the key taken.

        On PostgreSQL the commit does not wait for the log to reach the disk (an fsync, most
        of a message's time otherwise); other processes see the key at once all the same.
        Only a crash of the database server within a fraction of a second could lose it,
        and only if the handler stored nothing, since the handler's own commit flushes the
        log through the key: a retry after such a crash may be answered again, but never
        writes anything twice. (A plain-mode signed query's key, lost the same way, could be
        used once more within the allowed age; safe and compatible modes have no such key.)
        """
        params = (key[:200], self._time(now))
        async with self._engine.connect() as connection:
            raw = await driver(connection)
            if self._state.postgres:
                return await raw.fetchval(self._seen, *params) is not None
            return bool(await raw.execute_fetchall(self._seen, params))

    async def forget_seen_before(self, cutoff: datetime) -> None:
        await self._write(self._forget, (self._time(cutoff),))

    async def shown(self, openid: str) -> Shown:
        params = (CHANNEL, openid, CHANNEL, openid, openid)
        language, waiting, payloads = (await self._state.fetch(None, self._shown, params))[0]
        return Shown(language, waiting or 0, self._options(payloads))

    async def choice(self, openid: str, number: int) -> str | None:
        """The payload of the button numbered ``number`` in the last message, if any."""
        rows = await self._state.fetch(None, self._choices, (openid,))
        payloads = self._options(rows[0][0]) if rows else []
        return payloads[number - 1] if 1 <= number <= len(payloads) else None

    async def save_choices(self, openid: str, payloads: list[str], now: datetime) -> None:
        """Remember the options just shown, replacing the last ones."""
        await self._write(self._save, (openid, self._payloads({"p": payloads}), self._time(now)))

    async def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        async with self._engine.connect() as connection:
            await self._state.write(connection, [(sql, params)])

    def _options(self, stored: Any) -> list[str]:
        value = self._read_payloads(stored) if self._read_payloads else stored
        options: list[str] = value.get("p", []) if value else []
        return options


def _bind(column: ColumnElement[Any], dialect: Dialect) -> Any:
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return process or (lambda value: value)


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


async def identity(session: AsyncSession, openid: str) -> Identity | None:
    return await session.scalar(
        select(Identity).where(Identity.channel == CHANNEL, Identity.external_id == openid)
    )


async def keep_in_inbox(
    session: AsyncSession, identity_id: int, body: dict[str, Any], reason: str
) -> None:
    session.add(WechatInboxMessage(identity_id=identity_id, body=body, reason=reason[:32]))


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
