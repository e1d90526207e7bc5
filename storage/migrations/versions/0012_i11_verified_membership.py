"""verified enterprise membership and member rosters

Revision ID: 0011_i11
Revises: 0011_i12b
Create Date: 2026-12-01 12:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_i11"
down_revision: str | None = "0011_i12b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enterprise_status", sa.String(length=9), nullable=True))
        batch_op.add_column(
            sa.Column("enterprise_number_hash", sa.String(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("enterprise_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_check_constraint(
            "ck_members_enterprise_status",
            "enterprise_status IN ('pending', 'verified', 'refused')",
        )
    op.create_table(
        "enterprise_roster",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("number_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_enterprise_roster_enterprise_id_enterprises"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise_roster")),
        sa.UniqueConstraint(
            "enterprise_id",
            "number_hash",
            name=op.f("uq_enterprise_roster_enterprise_id_number_hash"),
        ),
    )


def downgrade() -> None:
    op.drop_table("enterprise_roster")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_constraint("ck_members_enterprise_status", type_="check")
        batch_op.drop_column("enterprise_requested_at")
        batch_op.drop_column("enterprise_number_hash")
        batch_op.drop_column("enterprise_status")
