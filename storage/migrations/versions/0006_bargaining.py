"""bargaining

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 23:34:41.744480
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bargaining_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("step_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("employer_member_id", sa.Integer(), nullable=True),
        sa.Column("offer_text", sa.Text(), nullable=True),
        sa.Column("offer_accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("minutes_text", sa.Text(), nullable=True),
        sa.Column("resolution_text", sa.Text(), nullable=True),
        sa.Column("meeting_opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("meeting_closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('wage', 'skill')", name=op.f("ck_bargaining_sessions_kind")),
        sa.CheckConstraint(
            "step BETWEEN 1 AND 11", name=op.f("ck_bargaining_sessions_step_in_range")
        ),
        sa.ForeignKeyConstraint(
            ["employer_member_id"],
            ["members.id"],
            name=op.f("fk_bargaining_sessions_employer_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_bargaining_sessions_enterprise_id_enterprises"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bargaining_sessions")),
        sa.UniqueConstraint("code", name=op.f("uq_bargaining_sessions_code")),
    )
    with op.batch_alter_table("bargaining_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bargaining_sessions_enterprise_id"), ["enterprise_id"], unique=False
        )

    op.create_table(
        "ballots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("max_choices", sa.Integer(), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("quorum", sa.String(length=9), nullable=False),
        sa.Column("majority", sa.String(length=9), nullable=False),
        sa.Column("eligible", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.CheckConstraint("kind IN ('election', 'congress')", name=op.f("ck_ballots_kind")),
        sa.CheckConstraint("max_choices >= 1", name=op.f("ck_ballots_max_choices_positive")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["bargaining_sessions.id"],
            name=op.f("fk_ballots_session_id_bargaining_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ballots")),
    )
    with op.batch_alter_table("ballots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ballots_session_id"), ["session_id"], unique=False)

    op.create_table(
        "bargaining_followers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_bargaining_followers_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["bargaining_sessions.id"],
            name=op.f("fk_bargaining_followers_session_id_bargaining_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bargaining_followers")),
        sa.UniqueConstraint(
            "session_id", "member_id", name=op.f("uq_bargaining_followers_session_id_member_id")
        ),
    )
    with op.batch_alter_table("bargaining_followers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bargaining_followers_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "bargaining_representatives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_bargaining_representatives_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["bargaining_sessions.id"],
            name=op.f("fk_bargaining_representatives_session_id_bargaining_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bargaining_representatives")),
        sa.UniqueConstraint(
            "session_id",
            "member_id",
            name=op.f("uq_bargaining_representatives_session_id_member_id"),
        ),
    )
    op.create_table(
        "bargaining_suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('new', 'adopted', 'answered')",
            name=op.f("ck_bargaining_suggestions_status"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["members.id"],
            name=op.f("fk_bargaining_suggestions_author_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["bargaining_sessions.id"],
            name=op.f("fk_bargaining_suggestions_session_id_bargaining_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bargaining_suggestions")),
    )
    with op.batch_alter_table("bargaining_suggestions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bargaining_suggestions_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "bargaining_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action IN ('start', 'close', 'reopen')", name=op.f("ck_bargaining_transitions_action")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_bargaining_transitions_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["bargaining_sessions.id"],
            name=op.f("fk_bargaining_transitions_session_id_bargaining_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bargaining_transitions")),
    )
    with op.batch_alter_table("bargaining_transitions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bargaining_transitions_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "meeting_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("speaker_id", sa.Integer(), nullable=True),
        sa.Column("speaker_name", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "side IN ('union', 'employer')", name=op.f("ck_meeting_statements_side")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["bargaining_sessions.id"],
            name=op.f("fk_meeting_statements_session_id_bargaining_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["speaker_id"],
            ["members.id"],
            name=op.f("fk_meeting_statements_speaker_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_statements")),
        sa.UniqueConstraint("session_id", "seq", name=op.f("uq_meeting_statements_session_id_seq")),
    )
    op.create_table(
        "ballot_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ballot_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["ballot_id"],
            ["ballots.id"],
            name=op.f("fk_ballot_candidates_ballot_id_ballots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_ballot_candidates_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ballot_candidates")),
        sa.UniqueConstraint(
            "ballot_id", "member_id", name=op.f("uq_ballot_candidates_ballot_id_member_id")
        ),
        sa.UniqueConstraint(
            "ballot_id", "position", name=op.f("uq_ballot_candidates_ballot_id_position")
        ),
    )
    op.create_table(
        "ballot_papers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("ballot_id", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.String(length=12), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ballot_id"],
            ["ballots.id"],
            name=op.f("fk_ballot_papers_ballot_id_ballots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ballot_papers")),
        sa.UniqueConstraint(
            "ballot_id", "receipt", name=op.f("uq_ballot_papers_ballot_id_receipt")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "ballot_voters",
        sa.Column("ballot_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ballot_id"],
            ["ballots.id"],
            name=op.f("fk_ballot_voters_ballot_id_ballots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_ballot_voters_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ballot_id", "member_id", name=op.f("pk_ballot_voters")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("ballot_voters")
    op.drop_table("ballot_papers")
    op.drop_table("ballot_candidates")
    op.drop_table("meeting_statements")
    with op.batch_alter_table("bargaining_transitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bargaining_transitions_session_id"))

    op.drop_table("bargaining_transitions")
    with op.batch_alter_table("bargaining_suggestions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bargaining_suggestions_session_id"))

    op.drop_table("bargaining_suggestions")
    op.drop_table("bargaining_representatives")
    with op.batch_alter_table("bargaining_followers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bargaining_followers_member_id"))

    op.drop_table("bargaining_followers")
    with op.batch_alter_table("ballots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ballots_session_id"))

    op.drop_table("ballots")
    with op.batch_alter_table("bargaining_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bargaining_sessions_enterprise_id"))

    op.drop_table("bargaining_sessions")
