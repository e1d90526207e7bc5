"""one-time role invitations

Revision ID: 0013_i17
Revises: 0011_i11
Create Date: 2026-12-01 12:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_i17"
down_revision: str | None = "0011_i11"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = "'member', 'officer', 'matchmaker', 'chair', 'unit_staff', 'admin'"


def upgrade() -> None:
    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(f"role IN ({ROLES})", name=op.f("ck_invites_role")),
        sa.CheckConstraint(
            "(role IN ('chair', 'unit_staff')) = (scope <> '')", name=op.f("ck_invites_scope")
        ),
        sa.ForeignKeyConstraint(
            ["used_by"],
            ["members.id"],
            name=op.f("fk_invites_used_by_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_invites_code_hash")),
    )


def downgrade() -> None:
    op.drop_table("invites")
