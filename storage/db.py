"""Engine and session factory for SQLite (aiosqlite, WAL) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for another process's transaction before giving up."""


SQLITE_POOL_SIZE = 1
"""Pooled connections to a SQLite file. SQLite lets one writer in at a time, and every
transaction here takes the write lock as it starts (:func:`_begin_immediate`), so a second
connection only adds a writer that waits in SQLite's busy handler, which sleeps up to 100 ms
between tries; with one, messages queue for it in order. Two ``unionbot serve`` processes
under ``bench/webhooks.py``'s load side by side, SQLAlchemy's default 5 + 10 connections
against one: p99 212 against 182 ms at 10 messages a second each, and about 5 % more CPU per
message with 5 + 10. Readers are cheap in WAL mode and need no pooled connection: the read
every message makes has one of its own (:mod:`storage.message_state`). Code holding a
connection must not wait for a second one: it would wait for itself until the pool's
timeout."""

POOL_RECYCLE_SECONDS = 1800
"""Replace pooled PostgreSQL connections after this long, before servers or proxies drop
idle ones; cheaper than pinging the server before every message."""


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the engine; on SQLite turn on WAL so readers never block the writer, and pool
    one connection to a file (:data:`SQLITE_POOL_SIZE`; ``:memory:`` keeps SQLAlchemy's
    single shared connection).

    SQL parameters are left out of errors (``hide_parameters``): a failed insert's message
    would otherwise carry a member's contact or dialog data into the log."""
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        kwargs.setdefault("pool_reset_on_return", None)
        database = sqlite_file(url)
        if database is not None:
            kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
            kwargs.setdefault("max_overflow", 0)
        engine = create_async_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        event.listen(engine.sync_engine, "do_connect", lambda *_: _create_private(database))
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        event.listen(engine.sync_engine, "reset", _end_open_transaction)
        return engine
    return create_async_engine(url, pool_recycle=POOL_RECYCLE_SECONDS, **kwargs)


def sqlite_file(url: str) -> Path | None:
    """The SQLite database file a URL names (absolute), or None (PostgreSQL, in memory)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).absolute()


def _create_private(path: Path | None) -> None:
    """SQLite would create a missing file with the process's umask (0644 mostly, so any
    local user could copy every member's data): create it first, empty and 0600. Its WAL
    and shared-memory files take the same mode."""
    if path is None or not path.parent.is_dir():
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()
    # Let SQLAlchemy's "begin" event start transactions instead of the driver.
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Any) -> None:
    """Take the write lock when a transaction starts.

    SQLite's default deferred transactions fail at once with "database is locked" when two
    processes both read and then try to write; an immediate one waits for the lock instead.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _end_open_transaction(dbapi_connection: Any, _record: Any, _state: Any) -> None:
    """Roll back a connection given back to the pool only if a transaction is still open:
    with aiosqlite every rollback is a hop to the connection's thread, and most messages
    read and write without one (:mod:`storage.message_state`)."""
    if dbapi_connection.driver_connection.in_transaction:
        dbapi_connection.rollback()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
