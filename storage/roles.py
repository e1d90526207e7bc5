"""Taking roles back, and what a scoped role's scope must name.

A chair's scope is an enterprise's id and a partner-unit staff member's is a unit's id; a
grant naming one that does not exist would give a role over nothing today and over
whatever gets that id later, so grants are checked here first.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Enterprise, Role, RoleGrant
from storage.models.benefits import PartnerUnit


async def scope_exists(session: AsyncSession, role: Role, scope: str) -> bool:
    """Whether ``scope`` names what ``role`` holds for (nothing for an unscoped role)."""
    if role not in (Role.CHAIR, Role.UNIT_STAFF):
        return scope == ""
    if not scope.isascii() or not scope.isdigit():
        return False
    column = Enterprise.id if role is Role.CHAIR else PartnerUnit.id
    return await session.scalar(select(column).where(column == int(scope))) is not None


async def revoke_role(session: AsyncSession, member_id: int, role: Role, scope: str = "") -> bool:
    """Take a role back; False when the member did not hold it."""
    taken = await session.execute(
        delete(RoleGrant)
        .where(RoleGrant.member_id == member_id, RoleGrant.role == role, RoleGrant.scope == scope)
        .returning(RoleGrant.id)
    )
    return taken.first() is not None


def no_such_scope(role: Role, scope: str) -> str:
    what = "enterprise" if role is Role.CHAIR else "partner unit"
    return f"no {what} with id {scope!r}"
