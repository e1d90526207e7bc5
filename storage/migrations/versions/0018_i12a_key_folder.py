"""the key folder's fingerprint, tying the folder to the database

Revision ID: 0018_i12a
Revises: 0017_i11
Create Date: 2026-12-01 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_i12a"
down_revision: str | None = "0017_i11"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "key_folder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_key_folder_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_folder")),
    )


def downgrade() -> None:
    op.drop_table("key_folder")
