"""Queries on members, their channel identities, roles and link codes."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    PrimaryKeyConstraint,
    ScalarSelect,
    Table,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    exists,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

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


def preferred_identity_column(
    member_id: ColumnElement[int] | InstrumentedAttribute[int], outer: Any, column: str = "id"
) -> ScalarSelect[Any]:
    """SQL: ``column`` of the identity :func:`preferred_identity` picks for the member
    ``member_id``, a column of the enclosing query's ``outer`` table (one index probe)."""
    other = aliased(Identity)
    return (
        select(getattr(other, column))
        .where(other.member_id == member_id, other.active.is_(True))
        .order_by(other.last_seen_at.desc(), other.id.desc())
        .limit(1)
        .correlate(outer)
        .scalar_subquery()
    )


async def mark_inactive(session: AsyncSession, identity_id: int) -> None:
    """Stop sending to an identity (the member blocked the bot) until they write again."""
    await session.execute(update(Identity).where(Identity.id == identity_id).values(active=False))


async def set_reachable(
    session: AsyncSession, channel: str, external_id: str, reachable: bool
) -> None:
    """The platform says whether this identity can be messaged: the member blocked the bot
    (Telegram's ``my_chat_member`` ``kicked``) or unblocked it."""
    await session.execute(
        update(Identity)
        .where(Identity.channel == channel, Identity.external_id == external_id)
        .values(active=reachable)
    )


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


class LinkConflict(Exception):
    """Both members hold a record that cannot become one (``msgid`` says which)."""

    def __init__(self, msgid: str) -> None:
        super().__init__(msgid)
        self.msgid = msgid


async def use_link_code(
    session: AsyncSession, code: str, identity: Identity, now: datetime
) -> Member | None:
    """Merge the member behind ``identity`` into the member who made ``code``; None if the
    code is unknown or old. Raises :class:`LinkConflict` (and changes nothing) when the
    two members hold conflicting records, such as votes in the same ballot."""
    link = await session.get(LinkCode, code.strip().upper())
    if link is None or link.expires_at < now:
        return None
    keep_id = link.member_id
    if keep_id != identity.member_id:
        await merge_members(session, keep_id, identity.member_id)
        identity.member_id = keep_id  # as the merge wrote it, for this message's objects
    await session.execute(delete(LinkCode).where(LinkCode.code == link.code))
    await session.flush()
    return await session.get(Member, keep_id)


async def merge_members(session: AsyncSession, keep_id: int, merged_id: int) -> None:
    """Move every record of ``merged_id`` to ``keep_id`` and delete the merged member.

    Both member rows are locked first, as a vote locks its voter's row, so a merge and a
    vote never interleave. Every column referring to a member is found from the schema,
    so a table added later is moved too; where a unique key would hold the same thing
    twice, a duplicate that is the same fact (following a session twice, a role held
    twice) is dropped, and anything else refuses the merge before anything is changed."""
    await session.execute(
        select(Member.id)
        .where(Member.id.in_([keep_id, merged_id]))
        .order_by(Member.id)
        .with_for_update()
    )
    keep = await session.get(Member, keep_id)
    merged = await session.get(Member, merged_id)
    if keep is None or merged is None:
        raise LinkConflict("link.conflict")
    references = _member_references()
    duplicates = []
    for table, column, others in references:
        if others is None or not await _both_hold(
            session, table, column, others, keep_id, merged_id
        ):
            continue
        if table.name not in SAME_FACT:
            raise LinkConflict(CONFLICTS.get(table.name, "link.conflict"))
        duplicates.append((table, column, others))
    for table, column, others in duplicates:
        await _drop_duplicates(session, table, column, others, keep_id, merged_id)
    for table, column, _ in dict.fromkeys((t, c, None) for t, c, _ in references):
        await session.execute(
            update(table).where(table.c[column] == merged_id).values({column: keep_id})
        )
    _fill_blanks(keep, merged)
    await session.flush()
    await session.execute(delete(Member).where(Member.id == merged_id))
    session.expunge(merged)
    await session.flush()


SAME_FACT = frozenset(
    {
        "dialog_states",
        "link_codes",
        "member_settings",
        "reminder_subscriptions",
        "role_grants",
        "bargaining_followers",
        "bargaining_representatives",
        "ballot_roll",
        "deliveries",
        "singles_blocks",
    }
)
"""Tables where both members holding the same row is one fact; the merged one's copy goes.
(A form in progress, a link code and settings are the kept member's.)"""

CONFLICTS = {
    "ballot_voters": "link.conflict.vote",
    "ballot_candidates": "link.conflict.candidate",
    "singles_profiles": "link.conflict.profile",
    "model_workers": "link.conflict.model_worker",
    "event_signups": "link.conflict.signup",
}
"""What to tell the member when both hold one of these; any other table: a general refusal."""


def _member_references() -> list[tuple[Table, str, tuple[str, ...] | None]]:
    """(table, column, the other columns of a unique key with it, or None) for every column
    that refers to ``members.id``; one row per unique key, and one with None."""
    found: list[tuple[Table, str, tuple[str, ...] | None]] = []
    for table in Member.metadata.sorted_tables:
        for column in table.columns:
            if not any(fk.column.table.name == "members" for fk in column.foreign_keys):
                continue
            found.append((table, column.name, None))
            keys = [
                [c.name for c in constraint.columns]
                for constraint in table.constraints
                if isinstance(constraint, (UniqueConstraint, PrimaryKeyConstraint))
            ] + [[c.name for c in index.columns] for index in table.indexes if index.unique]
            found += [
                (table, column.name, tuple(c for c in key if c != column.name))
                for key in keys
                if column.name in key
            ]
    return found


def _pair(
    table: Table, column: str, others: tuple[str, ...], keep_id: int, merged_id: int
) -> tuple[Any, Any]:
    mine = table.alias("kept")
    return mine, and_(
        mine.c[column] == keep_id,
        table.c[column] == merged_id,
        *(mine.c[o] == table.c[o] for o in others),
    )


async def _both_hold(
    session: AsyncSession,
    table: Table,
    column: str,
    others: tuple[str, ...],
    keep_id: int,
    merged_id: int,
) -> bool:
    mine, condition = _pair(table, column, others, keep_id, merged_id)
    found = await session.execute(
        select(literal(1)).select_from(table).join(mine, condition).limit(1)
    )
    return found.first() is not None


async def _drop_duplicates(
    session: AsyncSession,
    table: Table,
    column: str,
    others: tuple[str, ...],
    keep_id: int,
    merged_id: int,
) -> None:
    mine, condition = _pair(table, column, others, keep_id, merged_id)
    await session.execute(
        delete(table).where(exists(select(literal(1)).select_from(mine).where(condition)))
    )


def _fill_blanks(keep: Member, merged: Member) -> None:
    """The kept member's details win; what they lack comes from the merged member."""
    keep.real_name = keep.real_name or merged.real_name
    keep.town = keep.town or merged.town
    if keep.enterprise_id is None and merged.enterprise_id is not None:
        keep.enterprise_id = merged.enterprise_id
        keep.enterprise_status = merged.enterprise_status
        keep.enterprise_number_hash = merged.enterprise_number_hash
        keep.enterprise_requested_at = merged.enterprise_requested_at


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
