"""Fewer indexes on activity_events, the table every ingest page writes to.

- actor_key and target_key lose their indexes. Only `pli-pulse forget` searches by person, a few times a year,
  and one scan of the table serves it; the two indexes cost every ingest about an eighth of its CPU
  (benchmarks/README.md, bench_ingest_teams).
- community_id's index becomes partial (community_id IS NOT NULL): class events, nearly all rows, skip it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 04:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_HAS_COMMUNITY = sa.text("community_id IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("activity_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_events_actor_key"))
        batch_op.drop_index(batch_op.f("ix_activity_events_target_key"))
        batch_op.drop_index(batch_op.f("ix_activity_events_community_id"))
        batch_op.create_index(
            "ix_activity_events_community",
            ["community_id"],
            unique=False,
            sqlite_where=_HAS_COMMUNITY,
            postgresql_where=_HAS_COMMUNITY,
        )


def downgrade() -> None:
    with op.batch_alter_table("activity_events", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_events_community")
        batch_op.create_index(batch_op.f("ix_activity_events_community_id"), ["community_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_activity_events_target_key"), ["target_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_activity_events_actor_key"), ["actor_key"], unique=False)
