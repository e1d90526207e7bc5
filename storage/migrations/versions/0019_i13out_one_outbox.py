"""one outbox: every message to a member is a deliveries row; queued_messages goes

Rows get a priority and a coalesce key, and need no broadcast. Messages still waiting in
``queued_messages`` move into the outbox as pending interactive rows for their member, so
nothing queued before the upgrade is lost. Rows that were handed to that queue (status
``queued``) count as sent, as the queue took them.

Revision ID: 0019_i13out
Revises: 0018_i12a
Create Date: 2026-12-01 12:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_i13out"
down_revision: str | None = "0018_i12a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "status IN ('pending', 'sending', 'sent', 'queued', 'failed', 'blocked')"
NEW_STATUSES = "status IN ('pending', 'sending', 'sent', 'failed', 'blocked')"
WAITING = "status = 'pending' AND coalesce_key IS NOT NULL"
OWN_TABLE = {"resolve_fks": False}
"""SQLite's batch mode reflects the table; following its foreign keys would reflect
``members`` too, whose expression index makes SQLAlchemy warn on every upgrade."""


def upgrade() -> None:
    op.execute("UPDATE deliveries SET status = 'sent' WHERE status = 'queued'")
    with op.batch_alter_table("deliveries", schema=None, reflect_kwargs=OWN_TABLE) as batch_op:
        batch_op.drop_constraint(op.f("ck_deliveries_status"), type_="check")
        batch_op.drop_index("ix_deliveries_due")
        batch_op.alter_column("broadcast_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(
            sa.Column("priority", sa.SmallInteger(), nullable=False, server_default="2")
        )
        batch_op.add_column(sa.Column("coalesce_key", sa.String(length=40), nullable=True))
    with op.batch_alter_table("deliveries", schema=None, reflect_kwargs=OWN_TABLE) as batch_op:
        batch_op.alter_column("priority", existing_type=sa.SmallInteger(), server_default=None)
        batch_op.create_check_constraint("status", sa.text(NEW_STATUSES))
        batch_op.create_index(
            "ix_deliveries_due", ["status", "priority", "not_before", "id"], unique=False
        )
        batch_op.create_index(
            "uq_deliveries_waiting",
            ["member_id", "coalesce_key"],
            unique=True,
            sqlite_where=sa.text(WAITING),
            postgresql_where=sa.text(WAITING),
        )
    op.execute(
        "INSERT INTO deliveries (member_id, status, attempts, priority, not_before, body) "
        "SELECT identities.member_id, 'pending', 0, 0, queued_messages.created_at, "
        "queued_messages.body FROM queued_messages "
        "JOIN identities ON identities.id = queued_messages.identity_id "
        "ORDER BY queued_messages.id"
    )
    with op.batch_alter_table("queued_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_queued_messages_identity")
    op.drop_table("queued_messages")


def downgrade() -> None:
    op.create_table(
        "queued_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_queued_messages_identity_id_identities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queued_messages")),
    )
    with op.batch_alter_table("queued_messages", schema=None) as batch_op:
        batch_op.create_index("ix_queued_messages_identity", ["identity_id", "id"], unique=False)
    op.execute("DELETE FROM deliveries WHERE broadcast_id IS NULL")
    with op.batch_alter_table("deliveries", schema=None, reflect_kwargs=OWN_TABLE) as batch_op:
        batch_op.drop_index("uq_deliveries_waiting")
        batch_op.drop_index("ix_deliveries_due")
        batch_op.drop_constraint(op.f("ck_deliveries_status"), type_="check")
        batch_op.drop_column("coalesce_key")
        batch_op.drop_column("priority")
        batch_op.alter_column("broadcast_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("deliveries", schema=None, reflect_kwargs=OWN_TABLE) as batch_op:
        batch_op.create_check_constraint("status", sa.text(OLD_STATUSES))
        batch_op.create_index("ix_deliveries_due", ["status", "not_before", "id"], unique=False)
