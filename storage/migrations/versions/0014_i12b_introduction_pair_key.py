"""introductions keep their pair as a keyed hash, unique

Revision ID: 0014_i12b
Revises: 0013_i17
Create Date: 2026-12-01 13:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_i12b"
down_revision: str | None = "0013_i17"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("singles_introductions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pair_key", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_singles_introductions_pair_key"), ["pair_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("singles_introductions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_singles_introductions_pair_key"), type_="unique")
        batch_op.drop_column("pair_key")
