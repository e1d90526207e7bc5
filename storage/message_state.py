"""What every message reads and writes, with the database driver itself.

Every message needs its sender's identity and member, their roles and this chat's dialog
state; most write nothing else, or only the dialog state. Through the ORM those few rows
cost most of a message (``bench/dispatch.py``), so they are read here in one round trip
(on SQLite, on a connection of the event loop's own thread: no hop to aiosqlite's) and
written back only when they changed: a message that changes nothing opens no transaction.
Values go through the columns' own types, so they are stored and read exactly as the ORM
would; the identity and member come back as ORM objects outside any session, which
:class:`bot.context.Context` attaches to a session only when a handler opens one.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import Column, Dialect, Table, event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict
from sqlalchemy.orm.instrumentation import manager_of_class

from storage.db import sqlite_file
from storage.models import DialogState, Identity, Member, RoleGrant

Processor = Callable[[Any], Any] | None


@dataclass
class Dialog:
    """Where a member is in a form in one chat (a ``dialog_states`` row); ``id`` is None
    until it is stored."""

    form: str
    step: int
    data: dict[str, Any]
    updated_at: datetime
    id: int | None = None

    def copy(self) -> Dialog:
        return replace(self, data=json.loads(json.dumps(self.data)))


class Found:
    """A message's stored rows. The identity and member become ORM objects only when asked
    for (most messages only need the member's id and language)."""

    def __init__(
        self,
        identity: dict[str, Any],
        member: dict[str, Any],
        grants: list[tuple[str, str]],
        dialog: Dialog | None,
    ) -> None:
        self.identity_values = identity
        self.member_values = member
        self.grants = grants
        self.dialog = dialog

    def identity(self) -> Identity:
        identity: Identity = _detached(Identity, self.identity_values)
        return identity

    def member(self) -> Member:
        member: Member = _detached(Member, self.member_values)
        return member


_DIALOG_COLUMNS = ("id", "form", "step", "data", "updated_at")
_ROLES = {
    "postgresql": "json_agg(json_build_array(g.role, g.scope))",
    "sqlite": "json_group_array(json_array(g.role, g.scope))",
}


class MessageState:
    """The statements for one database, written once for its dialect."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        dialect = engine.dialect
        self.postgres = dialect.name == "postgresql"
        path = None if self.postgres else sqlite_file(str(engine.url))
        self._reads = _LocalReads(engine, path) if path else None
        configure_mappers()  # objects are made from rows here, before any query would
        self._identity = _columns(Identity.__table__, dialect)
        self._member = _columns(Member.__table__, dialect)
        dialogs = DialogState.__table__
        self._dialog = [c for c in _columns(dialogs, dialect) if c[0] in _DIALOG_COLUMNS]
        self._all = [*self._identity, *self._member, *self._dialog]
        self._bind = {c.name: _bind(c, dialect) for t in (Identity, DialogState) for c in _cols(t)}
        """Bind processors by column name (the two tables' same names are the same type)."""
        p = self.placeholder
        select = ", ".join(
            [f"i.{n}" for n, _ in self._identity]
            + [f"m.{n}" for n, _ in self._member]
            + [f"d.{n}" for n, _ in self._dialog]
        )
        self._read = (
            f"SELECT {select}, "
            f"(SELECT {_ROLES[dialect.name]} FROM {RoleGrant.__tablename__} g"
            " WHERE g.member_id = m.id) "
            "FROM identities i JOIN members m ON m.id = i.member_id "
            "LEFT JOIN dialog_states d ON d.member_id = i.member_id "
            f"AND d.channel = i.channel AND d.chat_id = {p(1)} "
            f"WHERE i.channel = {p(2)} AND i.external_id = {p(3)}"
        )
        self._seen = (
            f"UPDATE identities SET active = {p(1)}, last_seen_at = {p(2)} WHERE id = {p(3)}"
        )
        self._insert = (
            "INSERT INTO dialog_states (form, step, data, updated_at, member_id, channel, chat_id)"
            f" VALUES ({', '.join(p(n) for n in range(1, 8))})"
        )
        self._update = (
            f"UPDATE dialog_states SET form = {p(1)}, step = {p(2)}, data = {p(3)},"
            f" updated_at = {p(4)} WHERE id = {p(5)}"
        )
        self._delete = f"DELETE FROM dialog_states WHERE id = {p(1)}"

    def placeholder(self, number: int) -> str:
        """The driver's placeholder for parameter ``number`` (SQLite's ``?`` take the
        parameters in the order they appear, so every statement numbers them so)."""
        return f"${number}" if self.postgres else "?"

    async def read(
        self, connection: AsyncConnection | None, channel: str, external_id: str, chat_id: str
    ) -> Found | None:
        """The identity, member, roles and dialog state of this chat, in one round trip
        (without ``connection``, one is taken only if the read needs it: see :meth:`fetch`)."""
        rows = await self.fetch(connection, self._read, (chat_id, channel, external_id))
        return self.found(rows[0]) if rows else None

    async def fetch(
        self, connection: AsyncConnection | None, sql: str, params: tuple[Any, ...]
    ) -> Sequence[Sequence[Any]]:
        """The rows of a read (``sql`` numbered by :meth:`placeholder`), in one round trip:
        on SQLite, on the event loop thread's own connection when it can. Without
        ``connection``, one is taken from the engine only when the read needs it."""
        rows = self._reads.fetch(sql, params) if self._reads else None
        if rows is not None:
            return rows
        if connection is None:
            async with self.engine.connect() as opened:
                return await self._fetch(opened, sql, params)
        return await self._fetch(connection, sql, params)

    async def _fetch(
        self, connection: AsyncConnection, sql: str, params: tuple[Any, ...]
    ) -> Sequence[Sequence[Any]]:
        raw = await driver(connection)
        if self.postgres:
            return list(await raw.fetch(sql, *params))
        return list(await raw.execute_fetchall(sql, params))

    def found(self, row: Sequence[Any]) -> Found:
        values = [
            process(v) if process else v
            for (_, process), v in zip(self._all, row[:-1], strict=True)
        ]
        identity_end = len(self._identity)
        member_end = identity_end + len(self._member)
        identity = _named(self._identity, values[:identity_end])
        member = _named(self._member, values[identity_end:member_end])
        dialog = _named(self._dialog, values[member_end:])
        grants = row[-1]
        if isinstance(grants, str):
            grants = json.loads(grants)
        stored = None if dialog["id"] is None else Dialog(**dialog)
        return Found(identity, member, [(r, s) for r, s in grants or ()], stored)

    def refreshed(self, identity_id: int, now: datetime) -> tuple[str, tuple[Any, ...]]:
        """The identity is active and was seen ``now``."""
        params = self._params(("active", True), ("last_seen_at", now), ("id", identity_id))
        return self._seen, params

    def dialog_write(
        self,
        before: Dialog | None,
        after: Dialog | None,
        member_id: int,
        channel: str,
        chat_id: str,
    ) -> tuple[str, tuple[Any, ...]] | None:
        """The statement that stores ``after`` where ``before`` was; None if unchanged."""
        if after == before:
            return None
        if after is None:
            assert before is not None and before.id is not None
            return self._delete, (before.id,)
        changed = (
            ("form", after.form),
            ("step", after.step),
            ("data", after.data),
            ("updated_at", after.updated_at),
        )
        if before is None:
            where = (("member_id", member_id), ("channel", channel), ("chat_id", chat_id))
            return self._insert, self._params(*changed, *where)
        return self._update, self._params(*changed, ("id", before.id))

    def _params(self, *values: tuple[str, Any]) -> tuple[Any, ...]:
        processed = []
        for name, value in values:
            process = self._bind[name]
            processed.append(process(value) if process else value)
        return tuple(processed)

    async def write(
        self, connection: AsyncConnection, statements: list[tuple[str, tuple[Any, ...]]]
    ) -> None:
        """Run ``statements`` together: one alone with the driver (it commits by itself),
        several in a transaction; in the transaction already open, if there is one."""
        if connection.in_transaction():
            for sql, params in statements:
                await connection.exec_driver_sql(sql, params)
        elif len(statements) == 1:
            raw = await driver(connection)
            sql, params = statements[0]
            if self.postgres:
                await raw.execute(sql, *params)
            else:
                await raw.execute_fetchall(sql, params)
        elif statements:
            async with connection.begin():
                for sql, params in statements:
                    await connection.exec_driver_sql(sql, params)


class _LocalReads:
    """A SQLite connection of the event loop's own thread, for the read every message
    makes. In WAL mode a read never waits for a writer, and this query takes less time than
    aiosqlite's hop to its connection's thread and back, so it runs here; anything
    unexpected (another thread, a busy database during recovery) goes the usual way."""

    def __init__(self, engine: AsyncEngine, path: Any) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._thread: int | None = None
        event.listen(engine.sync_engine, "engine_disposed", lambda _: self.close())

    def fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any] | None:
        """The rows, or None to read through the engine instead."""
        if self._thread not in (None, threading.get_ident()):
            return None
        try:
            if self._connection is None:
                self._connection = self._open()
            return self._connection.execute(sql, params).fetchall()
        except sqlite3.Error:
            self.close()
            return None

    def _open(self) -> sqlite3.Connection:
        # mode=rw: never create the file (storage.db creates it, private).
        uri = f"file:{quote(str(self._path))}?mode=rw"
        connection = sqlite3.connect(uri, uri=True, isolation_level=None)
        connection.execute("PRAGMA query_only = ON")
        connection.execute("PRAGMA busy_timeout = 0")
        self._thread = threading.get_ident()
        return connection

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self._connection.close()
        self._connection = self._thread = None


async def driver(connection: AsyncConnection) -> Any:
    """The driver's own connection (asyncpg's, or aiosqlite's) under ``connection``: taken
    straight from an open connection, sparing a hop into SQLAlchemy's greenlet (twice per
    message); one that was invalidated reconnects the usual way."""
    sync = connection.sync_connection
    if sync is not None and not sync.closed and not sync.invalidated:
        return sync.connection.driver_connection
    return (await connection.get_raw_connection()).driver_connection


def _cols(model: type[Any]) -> list[Column[Any]]:
    table = model.__table__
    assert isinstance(table, Table)
    return list(table.columns)


def _columns(table: Any, dialect: Dialect) -> list[tuple[str, Processor]]:
    return [
        (c.name, c.type.dialect_impl(dialect).result_processor(dialect, None))
        for c in table.columns
    ]


def _bind(column: Column[Any], dialect: Dialect) -> Processor:
    processor: Processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    return processor


def _named(columns: list[tuple[str, Processor]], values: list[Any]) -> dict[str, Any]:
    return {name: value for (name, _), value in zip(columns, values, strict=True)}


def _detached(model: type[Any], values: dict[str, Any]) -> Any:
    """An ORM object for a row, as if loaded by a session since closed: its values set as
    loaded ones (as a query sets them), not as changes to save."""
    instance = manager_of_class(model).new_instance()
    instance_dict(instance).update(values)
    make_transient_to_detached(instance)
    return instance
