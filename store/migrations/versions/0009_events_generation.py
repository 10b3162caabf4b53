"""``events_generation``: a number the database itself moves on whenever a stored event is deleted or changed, so
the measures recompute can trust its saved state without counting the events of every run it holds
(measures/snapshot.py).

Counting them read all of ``ix_activity_events_run_id``: 0.6 s at 20M events, growing with the store's history,
on every recompute. Triggers keep the number instead, whoever deletes or changes events (``pli-pulse forget``,
the retention purge, an administrator's SQL). On SQLite they fire per row (a purge of a million events adds about
a second); on PostgreSQL once per statement, over the rows it touched. Inserts fire nothing: ingest only inserts
(ON CONFLICT DO NOTHING), and a trigger on insert, even one whose WHEN is false, cost a quarter of the Teams ingest's
CPU on SQLite (bench_ingest_teams: 58.9 against 45.0 ms per 1,000 messages). Events stored without a run are
counted by the recompute instead, through the same index (NULLs first, so only they are read).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BUMP = "UPDATE events_generation SET generation = generation + 1"

SQLITE_TRIGGERS = {
    "activity_events_deleted": f"AFTER DELETE ON activity_events BEGIN {BUMP}; END",
    "activity_events_updated": f"AFTER UPDATE ON activity_events BEGIN {BUMP}; END",
}

POSTGRES = [
    f"""CREATE FUNCTION events_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM touched) THEN {BUMP}; END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER activity_events_deleted AFTER DELETE ON activity_events REFERENCING OLD TABLE AS touched
    FOR EACH STATEMENT EXECUTE FUNCTION events_generation_bump()""",
    """CREATE TRIGGER activity_events_updated AFTER UPDATE ON activity_events REFERENCING NEW TABLE AS touched
    FOR EACH STATEMENT EXECUTE FUNCTION events_generation_bump()""",
]


def upgrade() -> None:
    op.create_table(
        "events_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_events_generation_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events_generation")),
    )
    op.execute("INSERT INTO events_generation (id, generation) VALUES (1, 0)")
    if op.get_bind().dialect.name == "sqlite":
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    else:
        for statement in POSTGRES:
            op.execute(statement)


def downgrade() -> None:
    for name in SQLITE_TRIGGERS:
        op.execute(
            f"DROP TRIGGER IF EXISTS {name}" + ("" if op.get_bind().dialect.name == "sqlite" else " ON activity_events")
        )
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS events_generation_bump()")
    op.drop_table("events_generation")
