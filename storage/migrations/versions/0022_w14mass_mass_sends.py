"""WeChat mass sends: one row per message/mass/send call, and the deliveries it carries

Revision ID: 0022_w14mass
Revises: 0021_w14quota
Create Date: 2026-12-01 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_w14mass"
down_revision: str | None = "0021_w14quota"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWN_TABLE = {"resolve_fks": False}
"""As in 0019: reflect ``deliveries`` alone in SQLite's batch mode."""
CARRIED = "mass_send_id IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        "wechat_mass_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("clientmsgid", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("msg_id", sa.BigInteger(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=9), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("filtered", sa.Integer(), nullable=True),
        sa.Column("sent", sa.Integer(), nullable=True),
        sa.Column("errors", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_wechat_mass_sends_broadcast_id_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_mass_sends")),
        sa.UniqueConstraint(
            "broadcast_id", "batch", name=op.f("uq_wechat_mass_sends_broadcast_id_batch")
        ),
        sa.UniqueConstraint("clientmsgid", name=op.f("uq_wechat_mass_sends_clientmsgid")),
    )
    op.create_index(
        op.f("ix_wechat_mass_sends_msg_id"), "wechat_mass_sends", ["msg_id"], unique=False
    )
    with op.batch_alter_table("deliveries", schema=None, reflect_kwargs=OWN_TABLE) as batch_op:
        batch_op.add_column(sa.Column("mass_send_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_deliveries_mass_send_id_wechat_mass_sends"),
            "wechat_mass_sends",
            ["mass_send_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(
            "ix_deliveries_mass_send",
            ["mass_send_id"],
            unique=False,
            sqlite_where=sa.text(CARRIED),
            postgresql_where=sa.text(CARRIED),
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None, reflect_kwargs=OWN_TABLE) as batch_op:
        batch_op.drop_index("ix_deliveries_mass_send")
        batch_op.drop_constraint(
            batch_op.f("fk_deliveries_mass_send_id_wechat_mass_sends"), type_="foreignkey"
        )
        batch_op.drop_column("mass_send_id")
    op.drop_index(op.f("ix_wechat_mass_sends_msg_id"), table_name="wechat_mass_sends")
    op.drop_table("wechat_mass_sends")
