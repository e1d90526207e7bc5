"""a notice may be sent as urgent

Revision ID: 0023_w14quota
Revises: 0022_w14mass
Create Date: 2026-12-01 16:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_w14quota"
down_revision: str | None = "0022_w14mass"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "notices", sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table(
        "notices", schema=None, reflect_kwargs={"resolve_fks": False}
    ) as batch_op:
        batch_op.drop_column("urgent")
