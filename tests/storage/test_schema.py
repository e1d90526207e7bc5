"""The migrations build exactly the models' schema, and the schema guards the data."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from bot.app import App
from storage.models import Identity, Member, RoleGrant
from storage.schema import include_object, metadata


async def test_migrations_match_the_models(app: App) -> None:
    def differences(connection: object) -> list[object]:
        context = MigrationContext.configure(
            connection,  # type: ignore[arg-type]
            opts={"include_object": include_object, "compare_type": True},
        )
        return list(compare_metadata(context, metadata))

    async with app.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def add(app: App, *rows: object) -> None:
    async with app.sessions() as session, session.begin():
        session.add_all(rows)


async def test_one_channel_identity_belongs_to_one_member(app: App) -> None:
    first, second = (
        Member(display_name="a", language="zh_CN"),
        Member(display_name="b", language="en"),
    )
    await add(app, first, second, Identity(member=first, channel="telegram", external_id="1"))
    with pytest.raises(IntegrityError):
        await add(app, Identity(member_id=second.id, channel="telegram", external_id="1"))


@pytest.mark.parametrize(
    ("role", "scope"),
    [("boss", ""), ("chair", ""), ("officer", "3"), ("unit_staff", "")],
)
async def test_role_grants_are_checked_by_the_database(app: App, role: str, scope: str) -> None:
    member = Member(display_name="a", language="zh_CN")
    await add(app, member)
    with pytest.raises(IntegrityError):
        await add(app, RoleGrant(member_id=member.id, role=role, scope=scope))


async def test_unknown_language_is_refused_by_the_database(app: App) -> None:
    with pytest.raises(IntegrityError):
        await add(app, Member(display_name="a", language="fr"))
