"""claim tries remember the entry and the name they aimed at; staff checks are counted

Revision ID: 0011_i12b
Revises: 0010
Create Date: 2026-12-01 12:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_i12b"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_worker_claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("worker_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("name_hash", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_model_worker_claims_worker_id_model_workers"),
            "model_workers",
            ["worker_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index("ix_model_worker_claims_name", ["name_hash", "attempted_at"])
        batch_op.create_index("ix_model_worker_claims_worker", ["worker_id", "attempted_at"])
        batch_op.create_index("ix_model_worker_claims_time", ["attempted_at"])

    op.create_table(
        "model_worker_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_member_id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_member_id"],
            ["members.id"],
            name=op.f("fk_model_worker_checks_staff_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_worker_checks")),
    )
    with op.batch_alter_table("model_worker_checks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_model_worker_checks_staff", ["staff_member_id", "checked_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("model_worker_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_model_worker_checks_staff")
    op.drop_table("model_worker_checks")
    with op.batch_alter_table("model_worker_claims", schema=None) as batch_op:
        batch_op.drop_index("ix_model_worker_claims_time")
        batch_op.drop_index("ix_model_worker_claims_worker")
        batch_op.drop_index("ix_model_worker_claims_name")
        batch_op.drop_constraint(
            batch_op.f("fk_model_worker_claims_worker_id_model_workers"), type_="foreignkey"
        )
        batch_op.drop_column("name_hash")
        batch_op.drop_column("worker_id")
