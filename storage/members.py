"""Queries on members, their channel identities, roles and link codes."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DialogState, Identity, LinkCode, Member, Role, RoleGrant

LINK_CODE_LIFETIME = timedelta(minutes=10)
LINK_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LINK_CODE_LENGTH = 8
"""32**8 codes alive for ten minutes: guessing one by messaging the bot is hopeless."""


_IDENTITY_WITH_DIALOG = (
    select(Identity, Member, DialogState)
    .join(Member, Member.id == Identity.member_id)
    .outerjoin(
        DialogState,
        and_(
            DialogState.member_id == Identity.member_id,
            DialogState.channel == Identity.channel,
            DialogState.chat_id == bindparam("chat_id"),
        ),
    )
    .where(
        Identity.channel == bindparam("channel"), Identity.external_id == bindparam("external_id")
    )
)
"""Built once: this runs for every incoming message."""


async def find_identity(
    session: AsyncSession, channel: str, external_id: str, chat_id: str
) -> tuple[Identity, Member, DialogState | None] | None:
    """The identity, its member and the dialog state of this chat, in one query."""
    parameters = {"channel": channel, "external_id": external_id, "chat_id": chat_id}
    row = (await session.execute(_IDENTITY_WITH_DIALOG, parameters)).first()
    return None if row is None else (row[0], row[1], row[2])


async def create_member(
    session: AsyncSession, channel: str, external_id: str, display_name: str, language: str
) -> tuple[Identity, Member]:
    member = Member(display_name=display_name[:64], language=language)
    identity = Identity(member=member, channel=channel, external_id=external_id)
    session.add_all([member, identity])
    await session.flush()
    return identity, member


async def member_by_identity(
    session: AsyncSession, channel: str, external_id: str
) -> Member | None:
    return await session.scalar(
        select(Member)
        .join(Identity, Identity.member_id == Member.id)
        .where(Identity.channel == channel, Identity.external_id == external_id)
    )


async def role_grants(session: AsyncSession, member_id: int) -> list[tuple[str, str]]:
    rows = await session.execute(
        select(RoleGrant.role, RoleGrant.scope).where(RoleGrant.member_id == member_id)
    )
    return [(role, scope) for role, scope in rows]


async def role_holders(session: AsyncSession, role: Role) -> list[int]:
    """Every member holding ``role`` in any scope: who is told of what that role watches
    over (officers get abuse reports and register lock-outs)."""
    found = await session.scalars(
        select(RoleGrant.member_id).where(RoleGrant.role == role).distinct()
    )
    return list(found)


async def grant_role(session: AsyncSession, member_id: int, role: Role, scope: str = "") -> bool:
    """Grant a role; returns False if the member already had it."""
    existing = await session.scalar(
        select(RoleGrant.id).where(
            RoleGrant.member_id == member_id, RoleGrant.role == role, RoleGrant.scope == scope
        )
    )
    if existing is not None:
        return False
    session.add(RoleGrant(member_id=member_id, role=role, scope=scope))
    await session.flush()
    return True


async def preferred_identity(session: AsyncSession, member_id: int) -> Identity | None:
    """The active identity the member used last: where messages to them should go."""
    return await session.scalar(
        select(Identity)
        .where(Identity.member_id == member_id, Identity.active.is_(True))
        .order_by(Identity.last_seen_at.desc(), Identity.id.desc())
        .limit(1)
    )


async def mark_inactive(session: AsyncSession, identity_id: int) -> None:
    """Stop sending to an identity (the member blocked the bot) until they write again."""
    await session.execute(update(Identity).where(Identity.id == identity_id).values(active=False))


async def create_link_code(session: AsyncSession, member_id: int, now: datetime) -> LinkCode:
    await session.execute(delete(LinkCode).where(LinkCode.member_id == member_id))
    code = "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))
    link = LinkCode(
        code=code,
        member_id=member_id,
        expires_at=now + LINK_CODE_LIFETIME,
    )
    session.add(link)
    await session.flush()
    return link


async def use_link_code(
    session: AsyncSession, code: str, identity: Identity, now: datetime
) -> Member | None:
    """Move ``identity`` to the member who made ``code``; None if the code is unknown or old.

    The member the identity leaves is deleted when it has no identity left.
    """
    link = await session.get(LinkCode, code.strip().upper())
    if link is None or link.expires_at < now:
        return None
    await session.delete(link)
    if link.member_id == identity.member_id:
        return await session.get(Member, link.member_id)
    old_member_id = identity.member_id
    identity.member_id = link.member_id
    await session.execute(delete(DialogState).where(DialogState.member_id == old_member_id))
    await session.flush()
    remaining = await session.scalar(select(Identity.id).where(Identity.member_id == old_member_id))
    if remaining is None:
        await session.execute(delete(Member).where(Member.id == old_member_id))
    await session.flush()
    return await session.get(Member, link.member_id)


async def set_language(
    session: AsyncSession, channel: str, external_id: str, language: str
) -> Member:
    """Set the language of the member behind an identity, creating the member if new."""
    member = await member_by_identity(session, channel, external_id)
    if member is None:
        _, member = await create_member(session, channel, external_id, external_id, language)
    member.language = language
    return member


async def find_member(session: AsyncSession, reference: str) -> Member | None:
    """A member by ``channel:id`` (``telegram:12345``) or, without a channel, console name."""
    channel, _, external_id = reference.partition(":")
    if not external_id:
        channel, external_id = "console", reference
    return await member_by_identity(session, channel, external_id)
