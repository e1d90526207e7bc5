"""one-time sign-in codes for the officials' dashboard

Revision ID: 0015_i15
Revises: 0014_i12b
Create Date: 2026-12-01 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_i15"
down_revision: str | None = "0014_i12b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_signin_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_web_signin_codes_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_signin_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_web_signin_codes_code_hash")),
    )
    with op.batch_alter_table("web_signin_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_signin_codes_member_id"), ["member_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("web_signin_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_signin_codes_member_id"))
    op.drop_table("web_signin_codes")
