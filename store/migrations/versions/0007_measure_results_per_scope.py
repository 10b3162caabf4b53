"""``measure_results`` keeps one row per scope and period, with all its figures, instead of one row per figure.

Writing figures cost about 4 µs a row whatever the row held (an upsert that changed nothing was no faster than a
delete and insert): replacing a district's 24 periods took 11.3 s of a 20.6 s rebuild at 2M events, and six
periods 2.9 s of a 5.9 s nightly recompute (benchmarks/README.md, bench_measures_store). Packed per scope, the
same figures are about 35 times fewer rows. A card reads its scope's one row.

The figures are derived data: this revision empties the table and forgets the measures' saved state (its token
row), so the next recompute rebuilds from the store and computes every period. Downgrading empties it too.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _key() -> tuple[sa.Column, ...]:
    return (
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(length=128), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
    )


def upgrade() -> None:
    op.drop_table("measure_results")
    op.create_table(
        "measure_results",
        *_key(),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "scope_id", "period", name=op.f("pk_measure_results")),
        sqlite_with_rowid=False,
    )
    op.execute("DELETE FROM measure_snapshots")


def downgrade() -> None:
    op.drop_table("measure_results")
    op.create_table(
        "measure_results",
        *_key(),
        sa.Column("measure", sa.String(length=48), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("n", sa.Integer(), nullable=True),
        sa.Column("suppressed", sa.String(length=64), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(value is null) = (suppressed is not null)", name=op.f("ck_measure_results_value_or_reason")
        ),
        sa.PrimaryKeyConstraint("scope", "scope_id", "period", "measure", name=op.f("pk_measure_results")),
        sqlite_with_rowid=False,
    )
    op.execute("DELETE FROM measure_snapshots")
