"""``events_generation``: a number the database itself moves on whenever a stored event is deleted or changed, or
an ingest run's record is deleted, so the measures recompute can trust its saved state without counting the events
of every run it holds (measures/snapshot.py).

Counting them read all of ``ix_activity_events_run_id``: 0.6 s at 20M events, growing with the store's history,
on every recompute. Triggers keep the number instead, whoever deletes or changes events (``pli-pulse forget``,
the retention purge, an administrator's SQL, a TRUNCATE on PostgreSQL). On SQLite they fire per row (a purge of a
million events adds about a second; SQLite's whole-table DELETE shortcut is off for a table with triggers); on
PostgreSQL once per statement, over the rows it touched. A deleted ``ingest_runs`` record moves it too: the
recompute finds new runs by their records, and SQLite gives a deleted newest run's id to the next run.

Inserts fire nothing: ingest only inserts (ON CONFLICT DO NOTHING), and a trigger on insert, even one whose WHEN is
false, cost a quarter of the Teams ingest's CPU on SQLite (bench_ingest_teams: 58.9 against 45.0 ms per 1,000
messages). Events stored without a run are counted by the recompute instead, through the run_id index (NULLs
first, so only they are read). ``INSERT OR REPLACE`` on SQLite deletes without firing the delete trigger (unless
``recursive_triggers`` is on); nothing in the product uses it.

The upgrade also forgets the saved state's token: a state saved before, or before a downgrade, is rebuilt once.

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
    "ingest_runs_deleted": f"AFTER DELETE ON ingest_runs BEGIN {BUMP}; END",
}

POSTGRES_TRIGGERS = {
    "activity_events_deleted": ("activity_events", "AFTER DELETE", "OLD"),
    "activity_events_updated": ("activity_events", "AFTER UPDATE", "NEW"),
    "ingest_runs_deleted": ("ingest_runs", "AFTER DELETE", "OLD"),
    "activity_events_truncated": ("activity_events", "AFTER TRUNCATE", None),  # no transition table for TRUNCATE
}

POSTGRES_FUNCTIONS = [
    f"""CREATE FUNCTION events_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM touched) THEN {BUMP}; END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION events_generation_bump_always() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {BUMP};
        RETURN NULL;
    END $$""",
]


def _postgres_trigger(name: str, table: str, when: str, rows: str | None) -> str:
    head = f"CREATE TRIGGER {name} {when} ON {table}"
    if rows is None:  # no transition table for TRUNCATE: it bumps whenever it runs
        return f"{head} FOR EACH STATEMENT EXECUTE FUNCTION events_generation_bump_always()"
    return f"{head} REFERENCING {rows} TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION events_generation_bump()"


def upgrade() -> None:
    op.create_table(
        "events_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_events_generation_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events_generation")),
    )
    op.execute("INSERT INTO events_generation (id, generation) VALUES (1, 0)")
    op.execute("DELETE FROM measure_snapshots")  # a state from before the triggers is not trusted
    if op.get_bind().dialect.name == "sqlite":
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    else:
        for statement in POSTGRES_FUNCTIONS:
            op.execute(statement)
        for name, spec in POSTGRES_TRIGGERS.items():
            op.execute(_postgres_trigger(name, *spec))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for name, (table, _, _) in POSTGRES_TRIGGERS.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS events_generation_bump()")
        op.execute("DROP FUNCTION IF EXISTS events_generation_bump_always()")
    op.drop_table("events_generation")
