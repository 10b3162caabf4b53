"""On SQLite, ``measure_results`` is stored in its primary key's order (a WITHOUT ROWID table).

A rowid table keeps every figure twice: the row in rowid order and its key in the primary-key index, so each
recompute's 375,000 figure writes at district scale (a week, its month and the term) update two B-trees, and each
card's read looks a key up in the index and then the row. Clustered on (scope, scope_id, period, measure), a
write touches one B-tree and a card's figures sit side by side: measured on the project machine, replacing six
periods' figures (750,000 rows) took 3.6 s instead of 4.6 s, and 2,000 class reads 0.05 s instead of 0.19 s.
PostgreSQL is unchanged.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 08:00:00
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _recreate(with_rowid: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "measure_results", recreate="always", table_kwargs={"sqlite_with_rowid": with_rowid}
    ) as batch_op:
        batch_op.alter_column("computed_at", existing_nullable=False)


def upgrade() -> None:
    _recreate(with_rowid=False)


def downgrade() -> None:
    _recreate(with_rowid=True)
