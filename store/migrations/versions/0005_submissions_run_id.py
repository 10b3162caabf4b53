"""Submissions remember the ingest run that wrote them or last really changed them.

Feedback is returned days or weeks after a submission, and the ingest updates the row in place whenever it first
sees the return. Without a run on the row, the measures recompute could only find changed submissions by reading
and hashing every one of them (about 1M at district scale) on every fold. With ``run_id`` set on insert and on a
real change only (``ON CONFLICT DO UPDATE ... WHERE`` a value is distinct), it reads the submissions of the runs
it has not folded, through ``ix_submissions_run_id``, and so does the period planner.

Rows stored before this revision are given the newest recorded run (NULL when there is none): they are older
than any computation to come, so the period planner must not see them as new, which a NULL would make it look
at by time. The saved measures state is rebuilt once anyway (its format changed).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_submissions_run_id"), ["run_id"], unique=False)
    op.execute("UPDATE submissions SET run_id = (SELECT max(run_id) FROM ingest_runs)")


def downgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submissions_run_id"))
        batch_op.drop_column("run_id")
