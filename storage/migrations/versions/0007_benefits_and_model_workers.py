"""benefits and model workers

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 23:08:32.205553
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "other_benefits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=True),
        sa.Column("city", sa.String(length=40), nullable=True),
        sa.Column("eligible", sa.String(length=300), nullable=False),
        sa.Column("how_to_apply", sa.String(length=300), nullable=False),
        sa.Column("amount", sa.String(length=100), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "valid_until IS NULL OR valid_until >= valid_from", name=op.f("ck_other_benefits_dates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_other_benefits")),
        sa.UniqueConstraint("title", name=op.f("uq_other_benefits_title")),
    )
    op.create_table(
        "partner_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("city", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("hours", sa.String(length=100), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.CheckConstraint(
            "category IN ('medical', 'dining', 'lodging', 'travel', 'finance', 'culture', 'other')",
            name=op.f("ck_partner_units_category"),
        ),
        sa.CheckConstraint(
            "(latitude IS NULL) = (longitude IS NULL)",
            name=op.f("ck_partner_units_both_coordinates"),
        ),
        sa.CheckConstraint(
            "latitude IS NULL OR latitude BETWEEN -90 AND 90",
            name=op.f("ck_partner_units_latitude"),
        ),
        sa.CheckConstraint(
            "longitude IS NULL OR longitude BETWEEN -180 AND 180",
            name=op.f("ck_partner_units_longitude"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_units")),
        sa.UniqueConstraint("name", name=op.f("uq_partner_units_name")),
    )
    with op.batch_alter_table("partner_units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partner_units_category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("ix_partner_units_city"), ["city"], unique=False)

    op.create_table(
        "unit_services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("what", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("min_level", sa.String(length=16), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('priority', 'quality', 'price')", name=op.f("ck_unit_services_kind")
        ),
        sa.CheckConstraint(
            "min_level IN ('city', 'provincial', 'national')",
            name=op.f("ck_unit_services_min_level"),
        ),
        sa.CheckConstraint(
            "valid_until IS NULL OR valid_until >= valid_from", name=op.f("ck_unit_services_dates")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["partner_units.id"],
            name=op.f("fk_unit_services_unit_id_partner_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_services")),
        sa.UniqueConstraint("unit_id", "what", name=op.f("uq_unit_services_unit_id_what")),
    )
    op.create_table(
        "model_worker_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_model_worker_claims_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_worker_claims")),
    )
    with op.batch_alter_table("model_worker_claims", schema=None) as batch_op:
        batch_op.create_index(
            "ix_model_worker_claims_member", ["member_id", "attempted_at"], unique=False
        )

    op.create_table(
        "model_workers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("city", sa.String(length=40), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "level IN ('city', 'provincial', 'national')", name=op.f("ck_model_workers_level")
        ),
        sa.CheckConstraint("year BETWEEN 1950 AND 2100", name=op.f("ck_model_workers_year")),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_model_workers_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_workers")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_model_workers_id_hash")),
        sa.UniqueConstraint("member_id", name=op.f("uq_model_workers_member_id")),
    )
    op.create_table(
        "model_worker_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.String(length=24), nullable=False),
        sa.Column("number", sa.String(length=12), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("expires_at > issued_at", name=op.f("ck_model_worker_codes_lifetime")),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["model_workers.id"],
            name=op.f("fk_model_worker_codes_worker_id_model_workers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_worker_codes")),
        sa.UniqueConstraint("number", name=op.f("uq_model_worker_codes_number")),
        sa.UniqueConstraint("token_id", name=op.f("uq_model_worker_codes_token_id")),
    )
    with op.batch_alter_table("model_worker_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_model_worker_codes_worker_id"), ["worker_id"], unique=False
        )

    op.create_table(
        "service_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("code_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("staff_member_id", sa.Integer(), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["code_id"],
            ["model_worker_codes.id"],
            name=op.f("fk_service_uses_code_id_model_worker_codes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["unit_services.id"],
            name=op.f("fk_service_uses_service_id_unit_services"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["staff_member_id"],
            ["members.id"],
            name=op.f("fk_service_uses_staff_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["partner_units.id"],
            name=op.f("fk_service_uses_unit_id_partner_units"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["model_workers.id"],
            name=op.f("fk_service_uses_worker_id_model_workers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_uses")),
        sa.UniqueConstraint("code_id", "unit_id", name=op.f("uq_service_uses_code_id_unit_id")),
    )
    with op.batch_alter_table("service_uses", schema=None) as batch_op:
        batch_op.create_index("ix_service_uses_worker", ["worker_id", "used_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("service_uses", schema=None) as batch_op:
        batch_op.drop_index("ix_service_uses_worker")

    op.drop_table("service_uses")
    with op.batch_alter_table("model_worker_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_worker_codes_worker_id"))

    op.drop_table("model_worker_codes")
    op.drop_table("model_workers")
    with op.batch_alter_table("model_worker_claims", schema=None) as batch_op:
        batch_op.drop_index("ix_model_worker_claims_member")

    op.drop_table("model_worker_claims")
    op.drop_table("unit_services")
    with op.batch_alter_table("partner_units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_units_city"))
        batch_op.drop_index(batch_op.f("ix_partner_units_category"))

    op.drop_table("partner_units")
    op.drop_table("other_benefits")
