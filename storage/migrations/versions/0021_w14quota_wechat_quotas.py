"""WeChat quota ledger; the route each delivery took

``wechat_quotas`` holds each WeChat identity's allowances (customer-service window, the
minute after an event, mass sends this month, template messages today),
``wechat_template_days`` the account's template messages per day; deliveries record the
route they took and why.

Revision ID: 0021_w14quota
Revises: 0020_i13out
Create Date: 2026-12-01 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_w14quota"
down_revision: str | None = "0020_i13out"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROUTES = "route IS NULL OR route IN ('passive', 'customer_service', 'template', 'mass', 'inbox')"
OWN_TABLE = {"resolve_fks": False}
"""As in 0019: reflect ``deliveries`` alone in SQLite's batch mode."""


def upgrade() -> None:
    op.create_table(
        "wechat_quotas",
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_used", sa.Integer(), nullable=False),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("event_used", sa.Integer(), nullable=False),
        sa.Column("mass_month", sa.Integer(), nullable=False),
        sa.Column("mass_used", sa.Integer(), nullable=False),
        sa.Column("template_day", sa.Date(), nullable=True),
        sa.Column("template_used", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_wechat_quotas_identity_id_identities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("identity_id", name=op.f("pk_wechat_quotas")),
    )
    op.create_table(
        "wechat_template_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_wechat_template_days")),
    )
    with op.batch_alter_table("deliveries", schema=None, reflect_kwargs=OWN_TABLE) as batch_op:
        batch_op.add_column(sa.Column("route", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("route_reason", sa.String(length=120), nullable=True))
        batch_op.create_check_constraint("route", sa.text(ROUTES))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None, reflect_kwargs=OWN_TABLE) as batch_op:
        batch_op.drop_constraint(op.f("ck_deliveries_route"), type_="check")
        batch_op.drop_column("route_reason")
        batch_op.drop_column("route")
    op.drop_table("wechat_template_days")
    op.drop_table("wechat_quotas")
