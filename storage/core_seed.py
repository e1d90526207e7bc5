"""Seed sections for the core tables: enterprises and members (with roles)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import members
from storage.memberships import Status
from storage.models import Enterprise, Identity, Member, Role

CONSOLE = "console"


class EnterpriseRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=2, max_length=100)
    city: str = Field(min_length=1, max_length=40)
    town: str | None = Field(default=None, max_length=40)


class RoleRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    enterprise: str | None = None
    """For a chair: the name of the enterprise whose union they chair."""

    @model_validator(mode="after")
    def _scope(self) -> RoleRow:
        if (self.role is Role.CHAIR) != (self.enterprise is not None):
            raise ValueError("a chair needs an enterprise, and only a chair has one")
        if self.role is Role.UNIT_STAFF:
            raise ValueError("unit staff are granted with 'unionbot grant NAME unit_staff --scope'")
        return self


class MemberRow(BaseModel):
    """A demo or imported member, reachable on the console as ``name``. An imported member
    with an enterprise is one of its verified workers: the officer importing vouches."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=64)
    display_name: str = Field(min_length=1, max_length=64)
    language: str = Field(default="zh_CN", pattern="^(zh_CN|en)$")
    real_name: str | None = Field(default=None, max_length=40)
    town: str | None = Field(default=None, max_length=40)
    enterprise: str | None = None
    roles: list[RoleRow] = []


async def load_enterprises(
    session: AsyncSession, rows: list[tuple[int, EnterpriseRow]]
) -> list[str]:
    for _, row in rows:
        enterprise = await session.scalar(select(Enterprise).where(Enterprise.name == row.name))
        if enterprise is None:
            session.add(Enterprise(name=row.name, city=row.city, town=row.town))
        else:
            enterprise.city, enterprise.town = row.city, row.town
    await session.flush()
    return []


async def load_members(session: AsyncSession, rows: list[tuple[int, MemberRow]]) -> list[str]:
    errors: list[str] = []
    named = await session.execute(select(Enterprise.name, Enterprise.id))
    enterprise_ids = {name: id_ for name, id_ in named}
    for line, row in rows:
        unknown = [
            name
            for name in [row.enterprise, *(r.enterprise for r in row.roles)]
            if name is not None and name not in enterprise_ids
        ]
        if unknown:
            errors.append(f"line {line}: unknown enterprise {unknown[0]!r}")
            continue
        member = await members.member_by_identity(session, CONSOLE, row.name)
        if member is None:
            member = Member(display_name=row.display_name, language=row.language)
            session.add_all(
                [member, Identity(member=member, channel=CONSOLE, external_id=row.name)]
            )
        member.display_name = row.display_name
        member.language = row.language
        member.real_name = row.real_name
        member.town = row.town
        member.enterprise_id = enterprise_ids[row.enterprise] if row.enterprise else None
        member.enterprise_status = Status.VERIFIED if row.enterprise else None
        await session.flush()
        for grant in row.roles:
            scope = str(enterprise_ids[grant.enterprise]) if grant.enterprise else ""
            await members.grant_role(session, member.id, grant.role, scope)
    return errors
