"""Drop the events index on class_id alone: ix_activity_events_class_time already leads with class_id.

One index less to maintain on the table every ingest page writes to (benchmarks/bench_ingest_teams).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 02:42:43.217005
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("activity_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_events_class_id"))


def downgrade() -> None:
    with op.batch_alter_table("activity_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activity_events_class_id"), ["class_id"], unique=False)
