"""indexes for the queries that grow with the union

Revision ID: 0016_i16a
Revises: 0015_i15
Create Date: 2026-12-01 13:10:00.000000

An enterprise's verified members (the bargaining index; notices to an enterprise, which
compare its id as text), a
town's members (notices to a town, the audience choices), the candidates for a pair (one
gender, not paused) and a broadcast's counts by status (``/broadcasts``), each read by an
index instead of the whole table at 1,000,000 members.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_i16a"
down_revision: str | None = "0015_i15"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES: tuple[tuple[str, str, list[str | sa.TextClause]], ...] = (
    ("members", "ix_members_enterprise", ["enterprise_id", "enterprise_status"]),
    (
        "members",
        "ix_members_enterprise_text",
        [sa.text("CAST(enterprise_id AS VARCHAR)"), "enterprise_status"],
    ),
    ("members", "ix_members_town", ["town"]),
    ("singles_profiles", "ix_singles_profiles_candidates", ["gender", "paused"]),
    ("deliveries", "ix_deliveries_counts", ["broadcast_id", "status"]),
)


def upgrade() -> None:
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for table, name, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
