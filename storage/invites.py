"""Making and redeeming role invitations (:class:`storage.models.invites.Invite`).

A code is ``INV-XXXX-XXXX-XXXX``: 12 characters from an alphabet without look-alikes
(0/O, 1/I/L), about 59 bits, so guessing one before it expires is hopeless; it is taken
with one conditional ``UPDATE``, so two members sending it at once cannot both win.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import members
from storage.models import Role
from storage.models.invites import Invite

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
GROUPS = 3
GROUP_LENGTH = 4
PREFIX = "INV"
CODE = re.compile(rf"{PREFIX}-?([{ALPHABET}]{{4}})-?([{ALPHABET}]{{4}})-?([{ALPHABET}]{{4}})")
DEEP_LINK = "invite"
"""``/start invite_CODE`` (Telegram) or a WeChat QR scene of the same."""


def normal_code(text: str) -> str | None:
    """The canonical code in what a member typed (any case, dashes optional), or None."""
    found = CODE.fullmatch(text.strip().upper())
    return f"{PREFIX}-" + "-".join(found.groups()) if found else None


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


async def create_invite(
    session: AsyncSession, role: Role, scope: str, now: datetime, lifetime: timedelta
) -> str:
    """A new code for ``role``; only its hash is stored, so it is shown this once."""
    groups = ("".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(GROUPS))
    code = f"{PREFIX}-" + "-".join(groups)
    session.add(
        Invite(
            code_hash=_hash(code), role=role, scope=scope, created_at=now, expires_at=now + lifetime
        )
    )
    await session.flush()
    return code


async def redeem(session: AsyncSession, code: str, member_id: int, now: datetime) -> Invite | None:
    """Give the invitation's role to ``member_id``; None when the code is unknown, used or
    expired (one answer for all three, so a guesser learns nothing)."""
    taken = await session.scalar(
        update(Invite)
        .where(Invite.code_hash == _hash(code), Invite.used_at.is_(None), Invite.expires_at > now)
        .values(used_at=now, used_by=member_id)
        .returning(Invite.id)
    )
    if taken is None:
        return None
    invite = await session.scalar(
        select(Invite).where(Invite.id == taken).execution_options(populate_existing=True)
    )
    assert invite is not None
    await members.grant_role(session, member_id, Role(invite.role), invite.scope)
    return invite
