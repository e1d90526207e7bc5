"""sealed ballot papers, the frozen voter roll, tallies without choices per receipt,
voided ballots, step closings and texts

Revision ID: 0017_i11
Revises: 0016_i16a
Create Date: 2026-12-01 13:00:00.000000

Papers used to be stored in clear; there is no key to seal them with here, so the upgrade
refuses while a ballot is open (close it with the old version first). Closed ballots keep
their totals and their receipts, sorted, without the choice each receipt made.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_i11"
down_revision: str | None = "0016_i16a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ballots = sa.table(
    "ballots",
    sa.column("id", sa.Integer()),
    sa.column("closed_at", sa.DateTime(timezone=True)),
    sa.column("result", sa.JSON()),
)


def upgrade() -> None:
    connection = op.get_bind()
    still_open = connection.execute(
        sa.select(sa.func.count()).select_from(ballots).where(ballots.c.closed_at.is_(None))
    ).scalar()
    if still_open:
        raise RuntimeError(
            f"{still_open} ballot(s) still open: close them with the previous version "
            "(unionbot close-ballots once their time has passed) before upgrading"
        )
    for ballot_id, result in connection.execute(sa.select(ballots.c.id, ballots.c.result)):
        if result is None or "papers" not in result:
            continue
        receipts = sorted(receipt for receipt, _ in result.pop("papers"))
        connection.execute(
            ballots.update()
            .where(ballots.c.id == ballot_id)
            .values(result={**result, "receipts": receipts})
        )
    op.drop_table("ballot_papers")
    op.create_table(
        "ballot_papers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("ballot_id", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ballot_id"],
            ["ballots.id"],
            name=op.f("fk_ballot_papers_ballot_id_ballots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ballot_papers")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "ballot_roll",
        sa.Column("ballot_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ballot_id"],
            ["ballots.id"],
            name=op.f("fk_ballot_roll_ballot_id_ballots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_ballot_roll_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ballot_id", "member_id", name=op.f("pk_ballot_roll")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("ballots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_key", sa.String(length=44), nullable=True))
        batch_op.add_column(sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("bargaining_transitions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "bargaining_voided_texts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "field IN ('offer_text', 'minutes_text', 'resolution_text')",
            name=op.f("ck_bargaining_voided_texts_field"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["bargaining_sessions.id"],
            name=op.f("fk_bargaining_voided_texts_session_id_bargaining_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bargaining_voided_texts")),
    )
    with op.batch_alter_table("bargaining_voided_texts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bargaining_voided_texts_session_id"), ["session_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("bargaining_voided_texts")
    with op.batch_alter_table("bargaining_transitions", schema=None) as batch_op:
        batch_op.drop_column("voided_at")
    with op.batch_alter_table("ballots", schema=None) as batch_op:
        batch_op.drop_column("voided_at")
        batch_op.drop_column("public_key")
    op.drop_table("ballot_roll")
    op.drop_table("ballot_papers")
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
