"""What the incremental measures recompute needs to fold only new ingest runs (measures/snapshot.py).

- ``ix_activity_events_run_id``: the recompute reads the events of the runs that ended since its saved state,
  and counts the events of every run to notice deletions (forget, retention). Without this index both scan
  the whole table (20M rows at district scale), which is what the saved state exists to avoid. It is the one
  index ingest pays for beyond the class/time and community ones (migration 0003), and run ids arrive in
  ascending order, so its inserts land at the right-hand edge of the B-tree.
- ``measure_snapshots``: the token of the state file last saved for this store, so a file made from another
  database, or from an older copy of this one, is rebuilt instead of trusted.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 05:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("activity_events", schema=None) as batch_op:
        batch_op.create_index("ix_activity_events_run_id", ["run_id"], unique=False)
    op.create_table(
        "measure_snapshots",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_measure_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("measure_snapshots")
    with op.batch_alter_table("activity_events", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_events_run_id")
