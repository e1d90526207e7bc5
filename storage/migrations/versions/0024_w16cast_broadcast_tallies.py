"""broadcasts expanded by the leader, and counters of their outcomes

A broadcast gets the recipe the leader expands, the rows written so far (``total``), where
expansion resumes (``expanded_to``) and when it finished (``expanded_at``);
``broadcast_tallies`` counts settled rows by route and status. Broadcasts written before
count as expanded, their settled rows tallied by the route they took ("" when none).

Revision ID: 0024_w16cast
Revises: 0023_w14quota
Create Date: 2026-12-01 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_w16cast"
down_revision: str | None = "0023_w14quota"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("expanded_at", "expanded_to", "total", "recipe")


def upgrade() -> None:
    # Plain ADD COLUMN, never SQLite's batch mode: recreating ``broadcasts`` would drop the
    # table its deliveries belong to, and ON DELETE CASCADE would take them with it.
    op.add_column("broadcasts", sa.Column("recipe", sa.JSON(), nullable=True))
    op.add_column(
        "broadcasts", sa.Column("total", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column(
        "broadcasts", sa.Column("expanded_to", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("broadcasts", sa.Column("expanded_at", sa.DateTime(timezone=True)))
    op.create_table(
        "broadcast_tallies",
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_broadcast_tallies_broadcast_id_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "broadcast_id", "route", "status", name=op.f("pk_broadcast_tallies")
        ),
    )
    op.execute(
        "UPDATE broadcasts SET expanded_at = created_at, total = "
        "(SELECT count(*) FROM deliveries WHERE deliveries.broadcast_id = broadcasts.id)"
    )
    op.execute(
        "INSERT INTO broadcast_tallies (broadcast_id, route, status, count) "
        "SELECT broadcast_id, coalesce(route, ''), status, count(*) FROM deliveries "
        "WHERE broadcast_id IS NOT NULL AND status IN ('sent', 'failed', 'blocked') "
        "GROUP BY broadcast_id, coalesce(route, ''), status"
    )


def downgrade() -> None:
    op.drop_table("broadcast_tallies")
    for column in COLUMNS:
        op.execute(f"ALTER TABLE broadcasts DROP COLUMN {column}")
