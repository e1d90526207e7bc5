"""One-time codes for signing in to the officials' dashboard.

An officer asks in chat (``/dashboard``); the bot answers with a code of
:data:`CODE_LENGTH` letters and digits (32 symbols, about 40 bits: guessing one of the few
live codes online is hopeless) that works once, for :data:`CODE_MINUTES`. The code is
stored only as an HMAC under the web-links key, so the database never holds one that
works. A new code replaces the member's earlier unused ones.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.model_worker_code import secret_file
from storage.models.web import SignInCode

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
CODE_MINUTES = 10
KEY_FILE = "web-links.key"


def web_key(key_dir: Path) -> bytes:
    """The web pages' secret (``web-links.key`` in the key folder, 0600, made on first use):
    it signs links and session cookies (:mod:`bot.web_links`) and keys the code hashes."""
    return secret_file(key_dir / KEY_FILE, secrets.token_bytes(32))


def _hash(key_dir: Path, code: str) -> str:
    normal = "".join(code.split()).upper()
    return hmac.new(
        web_key(key_dir), b"signin:" + normal.encode("utf-8"), hashlib.sha256
    ).hexdigest()


async def new_code(session: AsyncSession, key_dir: Path, member_id: int, now: datetime) -> str:
    await session.execute(
        delete(SignInCode).where(SignInCode.member_id == member_id, SignInCode.used_at.is_(None))
    )
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    session.add(
        SignInCode(
            member_id=member_id,
            code_hash=_hash(key_dir, code),
            created_at=now,
            expires_at=now + timedelta(minutes=CODE_MINUTES),
        )
    )
    await session.flush()
    return code


async def use_code(session: AsyncSession, key_dir: Path, code: str, now: datetime) -> int | None:
    """The member a current, unused code was sent to, marking it used; else None. The
    update is conditional, so two sign-ins racing with one code cannot both win."""
    found = await session.scalar(
        select(SignInCode).where(SignInCode.code_hash == _hash(key_dir, code))
    )
    if found is None or found.used_at is not None or found.expires_at <= now:
        return None
    taken = await session.execute(
        update(SignInCode)
        .where(SignInCode.id == found.id, SignInCode.used_at.is_(None))
        .values(used_at=now)
    )
    return found.member_id if taken.rowcount == 1 else None  # type: ignore[attr-defined]
