"""wechat tables

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-24 23:08:25.964386
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wechat_choices",
        sa.Column("openid", sa.String(length=128), nullable=False),
        sa.Column("payloads", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("openid", name=op.f("pk_wechat_choices")),
    )
    op.create_table(
        "wechat_seen_messages",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_wechat_seen_messages")),
    )
    with op.batch_alter_table("wechat_seen_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_wechat_seen_messages_seen_at"), ["seen_at"], unique=False
        )

    op.create_table(
        "wechat_tokens",
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("access_token", sa.String(length=600), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("app_id", name=op.f("pk_wechat_tokens")),
    )
    op.create_table(
        "wechat_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_wechat_inbox_identity_id_identities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_inbox")),
    )
    with op.batch_alter_table("wechat_inbox", schema=None) as batch_op:
        batch_op.create_index("ix_wechat_inbox_identity", ["identity_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("wechat_inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_wechat_inbox_identity")

    op.drop_table("wechat_inbox")
    op.drop_table("wechat_tokens")
    with op.batch_alter_table("wechat_seen_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wechat_seen_messages_seen_at"))

    op.drop_table("wechat_seen_messages")
    op.drop_table("wechat_choices")
