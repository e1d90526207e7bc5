"""singles and events

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 23:04:04.245516
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("place", sa.String(length=100), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signup_deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("places_women", sa.Integer(), nullable=True),
        sa.Column("places_men", sa.Integer(), nullable=True),
        sa.Column("places_total", sa.Integer(), nullable=True),
        sa.Column("age_min", sa.Integer(), nullable=True),
        sa.Column("age_max", sa.Integer(), nullable=True),
        sa.Column("profile_required", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(places_total IS NULL) <> (places_women IS NULL AND places_men IS NULL)",
            name=op.f("ck_events_places_total_or_split"),
        ),
        sa.CheckConstraint(
            "(places_women IS NULL) = (places_men IS NULL)",
            name=op.f("ck_events_places_women_and_men"),
        ),
        sa.CheckConstraint(
            "age_min IS NULL OR age_max IS NULL OR age_min <= age_max", name=op.f("ck_events_ages")
        ),
        sa.CheckConstraint(
            "coalesce(places_total, 1) > 0 AND coalesce(places_women, 0) >= 0"
            " AND coalesce(places_men, 0) >= 0",
            name=op.f("ck_events_places_positive"),
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_events_ends_after_start")),
        sa.CheckConstraint(
            "signup_deadline <= starts_at", name=op.f("ck_events_deadline_before_start")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("title", name=op.f("uq_events_title")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_starts_at"), ["starts_at"], unique=False)

    op.create_table(
        "event_signups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("side", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("side IN ('f', 'm', 'all')", name=op.f("ck_event_signups_side")),
        sa.CheckConstraint(
            "status IN ('confirmed', 'waitlist', 'cancelled')", name=op.f("ck_event_signups_status")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_signups_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_event_signups_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_signups")),
        sa.UniqueConstraint("code", name=op.f("uq_event_signups_code")),
        sa.UniqueConstraint(
            "event_id", "member_id", name=op.f("uq_event_signups_event_id_member_id")
        ),
    )
    with op.batch_alter_table("event_signups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_signups_member_id"), ["member_id"], unique=False)
        batch_op.create_index(
            "ix_event_signups_queue", ["event_id", "side", "status", "queued_at"], unique=False
        )

    op.create_table(
        "singles_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("blocked_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["blocked_id"],
            ["members.id"],
            name=op.f("fk_singles_blocks_blocked_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_singles_blocks_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_singles_blocks")),
        sa.UniqueConstraint(
            "member_id", "blocked_id", name=op.f("uq_singles_blocks_member_id_blocked_id")
        ),
    )
    with op.batch_alter_table("singles_blocks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_singles_blocks_blocked_id"), ["blocked_id"], unique=False
        )

    op.create_table(
        "singles_introductions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matchmaker_id", sa.Integer(), nullable=True),
        sa.Column("member_a_id", sa.Integer(), nullable=True),
        sa.Column("member_b_id", sa.Integer(), nullable=True),
        sa.Column("answer_a", sa.String(length=10), nullable=False),
        sa.Column("answer_b", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "answer_a IN ('pending', 'accepted', 'declined')",
            name=op.f("ck_singles_introductions_answer_a"),
        ),
        sa.CheckConstraint(
            "answer_b IN ('pending', 'accepted', 'declined')",
            name=op.f("ck_singles_introductions_answer_b"),
        ),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('talking', 'dating', 'engaged', 'married', 'ended')",
            name=op.f("ck_singles_introductions_outcome"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'closed')",
            name=op.f("ck_singles_introductions_status"),
        ),
        sa.CheckConstraint(
            "member_a_id <> member_b_id", name=op.f("ck_singles_introductions_two_people")
        ),
        sa.ForeignKeyConstraint(
            ["matchmaker_id"],
            ["members.id"],
            name=op.f("fk_singles_introductions_matchmaker_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_a_id"],
            ["members.id"],
            name=op.f("fk_singles_introductions_member_a_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_b_id"],
            ["members.id"],
            name=op.f("fk_singles_introductions_member_b_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_singles_introductions")),
    )
    with op.batch_alter_table("singles_introductions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_singles_introductions_matchmaker_id"), ["matchmaker_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_singles_introductions_member_b_id"), ["member_b_id"], unique=False
        )
        batch_op.create_index(
            "ix_singles_introductions_pair", ["member_a_id", "member_b_id"], unique=False
        )

    op.create_table(
        "singles_profile_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matchmaker_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("viewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["matchmaker_id"],
            ["members.id"],
            name=op.f("fk_singles_profile_views_matchmaker_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_singles_profile_views_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_singles_profile_views")),
    )
    with op.batch_alter_table("singles_profile_views", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_singles_profile_views_matchmaker_id"), ["matchmaker_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_singles_profile_views_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "singles_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(length=20), nullable=False),
        sa.Column("gender", sa.String(length=1), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=False),
        sa.Column("town", sa.String(length=40), nullable=False),
        sa.Column("employer", sa.String(length=100), nullable=True),
        sa.Column("show_employer", sa.Boolean(), nullable=False),
        sa.Column("education", sa.String(length=16), nullable=False),
        sa.Column("height_cm", sa.Integer(), nullable=True),
        sa.Column("occupation", sa.String(length=40), nullable=False),
        sa.Column("hobbies", sa.JSON(), nullable=False),
        sa.Column("intro", sa.String(length=200), nullable=False),
        sa.Column("seek_age_min", sa.Integer(), nullable=False),
        sa.Column("seek_age_max", sa.Integer(), nullable=False),
        sa.Column("seek_towns", sa.JSON(), nullable=False),
        sa.Column("contact", sa.String(length=40), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("consent_version", sa.String(length=16), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "education IN ('secondary', 'college', 'bachelor', 'master')",
            name=op.f("ck_singles_profiles_education"),
        ),
        sa.CheckConstraint("gender IN ('f', 'm')", name=op.f("ck_singles_profiles_gender")),
        sa.CheckConstraint(
            "birth_year BETWEEN 1900 AND 2100", name=op.f("ck_singles_profiles_birth_year")
        ),
        sa.CheckConstraint(
            "height_cm IS NULL OR height_cm BETWEEN 120 AND 230",
            name=op.f("ck_singles_profiles_height"),
        ),
        sa.CheckConstraint(
            "seek_age_min <= seek_age_max", name=op.f("ck_singles_profiles_seek_age_range")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_singles_profiles_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_singles_profiles")),
        sa.UniqueConstraint("member_id", name=op.f("uq_singles_profiles_member_id")),
    )
    op.create_table(
        "singles_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("reported_id", sa.Integer(), nullable=True),
        sa.Column("introduction_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["introduction_id"],
            ["singles_introductions.id"],
            name=op.f("fk_singles_reports_introduction_id_singles_introductions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reported_id"],
            ["members.id"],
            name=op.f("fk_singles_reports_reported_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["members.id"],
            name=op.f("fk_singles_reports_reporter_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_singles_reports")),
    )
    with op.batch_alter_table("singles_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_singles_reports_reported_id"), ["reported_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_singles_reports_reporter_id"), ["reporter_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("singles_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_singles_reports_reporter_id"))
        batch_op.drop_index(batch_op.f("ix_singles_reports_reported_id"))

    op.drop_table("singles_reports")
    op.drop_table("singles_profiles")
    with op.batch_alter_table("singles_profile_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_singles_profile_views_member_id"))
        batch_op.drop_index(batch_op.f("ix_singles_profile_views_matchmaker_id"))

    op.drop_table("singles_profile_views")
    with op.batch_alter_table("singles_introductions", schema=None) as batch_op:
        batch_op.drop_index("ix_singles_introductions_pair")
        batch_op.drop_index(batch_op.f("ix_singles_introductions_member_b_id"))
        batch_op.drop_index(batch_op.f("ix_singles_introductions_matchmaker_id"))

    op.drop_table("singles_introductions")
    with op.batch_alter_table("singles_blocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_singles_blocks_blocked_id"))

    op.drop_table("singles_blocks")
    with op.batch_alter_table("event_signups", schema=None) as batch_op:
        batch_op.drop_index("ix_event_signups_queue")
        batch_op.drop_index(batch_op.f("ix_event_signups_member_id"))

    op.drop_table("event_signups")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_starts_at"))

    op.drop_table("events")
