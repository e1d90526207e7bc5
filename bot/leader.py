"""Choosing the one process that runs the scheduler and the sender.

Several processes may serve one database (webhook workers behind a load balancer); exactly
one of them, the leader, runs jobs and sends broadcasts. On PostgreSQL the leader holds a
session-level advisory lock on a connection of its own: the server frees it the moment
that connection or process dies, and the next process to try takes over. On SQLite, where
one machine serves the file, the lock is an exclusive ``flock`` on ``<database>.leader``,
which the kernel frees when the process dies. Followers try again every
``UNIONBOT_LEADER_CHECK_SECONDS``; the leader checks its connection as often, and steps
down if it is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from typing import IO, Protocol

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from bot import metrics

log = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x756E696F6E626F74
"""'unionbot' as a 64-bit number: the advisory lock every process competes for."""


class Lock(Protocol):
    async def try_acquire(self) -> bool: ...

    async def still_held(self) -> bool: ...

    async def release(self) -> None: ...


class PostgresLock:
    def __init__(self, url: str) -> None:
        self._engine = create_async_engine(url, poolclass=NullPool)
        self._connection: AsyncConnection | None = None

    async def try_acquire(self) -> bool:
        connection = await self._engine.connect()
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
        except Exception:
            await connection.close()
            raise
        if not got:
            await connection.close()
            return False
        self._connection = connection
        return True

    async def still_held(self) -> bool:
        if self._connection is None:
            return False
        try:
            await self._connection.execute(text("SELECT 1"))
        except Exception:
            log.warning("the leader's lock connection is gone")
            self._connection = None
            return False
        return True

    async def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None
        await self._engine.dispose()


class FileLock:
    def __init__(self, path: str) -> None:
        self._path = path
        self._file: IO[bytes] | None = None

    async def try_acquire(self) -> bool:
        file = open(self._path, "ab")  # noqa: SIM115, ASYNC230  held while we lead
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            file.close()
            return False
        self._file = file
        return True

    async def still_held(self) -> bool:
        return self._file is not None

    async def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def lock_for(database_url: str) -> Lock:
    if database_url.startswith("postgresql"):
        return PostgresLock(database_url)
    database = make_url(database_url).database or "./unionbot.db"
    return FileLock(os.path.abspath(database) + ".leader")


class Leadership:
    """Tries to lead, and says when this process starts and stops leading."""

    def __init__(self, lock: Lock, check_seconds: float) -> None:
        self.lock = lock
        self.check_seconds = check_seconds
        self.leading = asyncio.Event()
        self.deposed = asyncio.Event()

    async def run(self) -> None:
        """Loop until cancelled: wait to be elected, then hold on until the lock is lost."""
        try:
            while True:
                try:
                    elected = await self.lock.try_acquire()
                except Exception:
                    log.exception("could not try for leadership")
                    elected = False
                if elected:
                    log.info("this process is the leader: it runs the scheduler and the sender")
                    self.deposed.clear()
                    self.leading.set()
                    metrics.LEADER.set(1)
                    while await self.lock.still_held():  # noqa: ASYNC110  a poll of the lock
                        await asyncio.sleep(self.check_seconds)
                    metrics.LEADER.set(0)
                    self.leading.clear()
                    self.deposed.set()
                    log.warning("this process is no longer the leader")
                await asyncio.sleep(self.check_seconds)
        finally:
            metrics.LEADER.set(0)
            await self.lock.release()
