"""Migrations that move data: what was there before the upgrade reads the same after, and
nothing is lost on the way (SQLite's batch mode recreates a table, which would take the
rows of tables that cascade from it)."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.app import App
from storage import broadcasts
from storage.migrate import alembic_config
from storage.models import Broadcast

BEFORE_COUNTERS = "0023_w14quota"
NOON = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)


async def test_broadcasts_written_before_the_counters_get_them_filled(app: App) -> None:
    def downgrade(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), BEFORE_COUNTERS)

    def upgrade(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), "head")

    async with app.engine.begin() as connection:
        await connection.run_sync(downgrade)
        await connection.execute(
            text(
                "INSERT INTO members (id, display_name, language, enterprise_status, created_at)"
                " VALUES (1, 'a', 'zh_CN', NULL, :now), (2, 'b', 'en', NULL, :now),"
                " (3, 'c', 'zh_CN', NULL, :now)"
            ),
            {"now": NOON},
        )
        await connection.execute(
            text(
                "INSERT INTO broadcasts (id, key, urgent, created_at)"
                " VALUES (7, 'notice:7', false, :now)"
            ),
            {"now": NOON},
        )
        for member, status, route in ((1, "sent", "mass"), (2, "sent", None), (3, "pending", None)):
            await connection.execute(
                text(
                    "INSERT INTO deliveries (broadcast_id, member_id, status, attempts, priority,"
                    " not_before, body, route) VALUES (7, :member, :status, 1, 2, :now, '{}',"
                    " :route)"
                ),
                {"member": member, "status": status, "route": route, "now": NOON},
            )
        await connection.run_sync(upgrade)
    async with app.sessions() as session:
        broadcast = await session.get(Broadcast, 7)
        assert broadcast is not None
        tallied = await broadcasts.tallies(session, [7])
    assert (broadcast.total, broadcast.expanded_at is not None) == (3, True), "rows kept"
    assert tallied[7] == {("mass", "sent"): 1, ("", "sent"): 1}
    assert broadcasts.by_status([broadcast], tallied)[7] == {"sent": 2, "pending": 1}
