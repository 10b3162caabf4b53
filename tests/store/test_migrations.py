"""The store's schema is created only by migrations, identically on SQLite and PostgreSQL."""

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from store.db import current_revision, downgrade, head_revision, make_engine, upgrade
from store.schema import metadata, submissions


def test_migrations_take_an_empty_database_to_head(database_url):
    engine = make_engine(database_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())


def test_migrated_schema_matches_the_code_schema_exactly(store_engine):
    with store_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_upgrade_is_idempotent_and_downgrade_empties_the_store(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert not set(metadata.tables) & set(inspect(engine).get_table_names())


def test_events_table_carries_only_the_indexes_that_reads_need(store_engine):
    # Every ingest page pays for each index on activity_events; forget scans instead (migration 0003).
    indexes = {ix["name"]: ix for ix in inspect(store_engine).get_indexes("activity_events")}
    # run_id: the measures recompute reads only the runs it has not folded yet (migration 0004).
    assert set(indexes) == {
        "ix_activity_events_class_time",
        "ix_activity_events_community",
        "ix_activity_events_run_id",
    }


def test_community_index_leaves_out_class_events(store_engine):
    with store_engine.connect() as conn:
        if store_engine.dialect.name == "sqlite":
            sql = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'ix_activity_events_community'"
            ).scalar_one()
        else:
            sql = conn.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_activity_events_community'"
            ).scalar_one()
    assert "community_id IS NOT NULL" in sql.replace("(", "").replace(")", "")


def test_submissions_stored_before_runs_were_stamped_take_the_newest_run(database_url):
    # Older than any computation to come: the period planner must not take them for new (migration 0005).
    engine = make_engine(database_url)
    upgrade(engine, "0004")
    now = datetime(2026, 11, 20, tzinfo=UTC)
    with engine.begin() as conn:
        for status in ("succeeded", "failed"):
            conn.execute(
                text("INSERT INTO ingest_runs (started_at, status, mode, stats) VALUES (:t, :s, 'incremental', '{}')"),
                {"t": now, "s": status},
            )
        conn.execute(
            text(
                "INSERT INTO submissions (submission_id, assignment_id, class_id, student_key, submitted_at)"
                " VALUES ('sub-1', 'asg-1', 'class-1', 'k', :t)"
            ),
            {"t": now},
        )
        newest = conn.execute(text("SELECT max(run_id) FROM ingest_runs")).scalar_one()
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(select(submissions.c.run_id)).scalar_one() == newest == 2


def test_figures_survive_the_move_to_a_table_clustered_on_its_key_and_back(database_url):
    # SQLite stores measure_results WITHOUT ROWID from 0006 on (one B-tree per figure); PostgreSQL is unchanged.
    engine = make_engine(database_url)
    upgrade(engine, "0005")
    row = "('class', 'A', '2026-W47', 'fa_reach', 0.25, 12, NULL, '2026-11-20 10:00:00')"
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO measure_results VALUES {row}"))

    def layout():
        with engine.connect() as conn:
            figures = conn.execute(text("SELECT scope_id, measure, value, n FROM measure_results")).all()
            if engine.dialect.name != "sqlite":
                return figures, None
            sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'measure_results'")).scalar_one()
        return figures, "WITHOUT ROWID" in sql

    upgrade(engine, "0006")
    assert layout() == ([("A", "fa_reach", 0.25, 12)], True if engine.dialect.name == "sqlite" else None)
    downgrade(engine, "0005")
    assert layout() == ([("A", "fa_reach", 0.25, 12)], False if engine.dialect.name == "sqlite" else None)


def test_figures_move_to_one_row_per_scope_and_period_and_the_measures_state_is_forgotten(database_url):
    # 0007: the figures are derived, so the table starts empty and the next recompute rebuilds every period.
    engine = make_engine(database_url)
    upgrade(engine, "0006")
    with engine.begin() as conn:
        figure = "('class', 'A', '2026-W47', 'fa_reach', 0.25, 12, NULL, :t)"
        conn.execute(text(f"INSERT INTO measure_results VALUES {figure}"), {"t": datetime(2026, 11, 20, tzinfo=UTC)})
        conn.execute(text("INSERT INTO measure_snapshots VALUES ('term', 'abc', :t)"), {"t": datetime(2026, 11, 20)})
    upgrade(engine)
    columns = [c["name"] for c in inspect(engine).get_columns("measure_results")]
    assert columns == ["scope", "scope_id", "period", "figures", "computed_at"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM measure_results")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM measure_snapshots")).scalar_one() == 0


def test_figures_are_keyed_by_period_first_and_kept_through_the_rekey_and_back(database_url):
    # 0008: a recompute replaces whole periods, so a period's rows sit together under (period, scope, scope_id).
    engine = make_engine(database_url)
    upgrade(engine, "0007")
    rows = [("class", "A", "2026-W47"), ("class", "B", "2026-W46"), ("community", "C", "term")]
    with engine.begin() as conn:
        for scope, scope_id, period in rows:
            conn.execute(
                text("INSERT INTO measure_results VALUES (:s, :i, :p, '{}', :t)"),
                {"s": scope, "i": scope_id, "p": period, "t": datetime(2026, 11, 20, tzinfo=UTC)},
            )

    def state():
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT scope, scope_id, period FROM measure_results")).all()
        key = inspect(engine).get_pk_constraint("measure_results")
        return sorted(stored), key["constrained_columns"], key["name"]

    upgrade(engine, "0008")
    assert state() == (sorted(rows), ["period", "scope", "scope_id"], "pk_measure_results")
    downgrade(engine, "0007")
    assert state() == (sorted(rows), ["scope", "scope_id", "period"], "pk_measure_results")


def test_the_rekey_runs_again_after_a_copy_that_failed_half_way(database_url):
    # SQLite recreates the table: a copy left behind by a failed run (a full disk) must not block the next one.
    engine = make_engine(database_url)
    upgrade(engine, "0007")
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO measure_results VALUES ('class', 'A', 'term', '{}', :t)"), {"t": datetime.now(UTC)}
        )
        conn.execute(text("CREATE TABLE _measure_results_new (half_copied INTEGER)"))
    upgrade(engine, "0008")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT scope_id, period FROM measure_results")).all() == [("A", "term")]
    assert inspect(engine).get_pk_constraint("measure_results")["constrained_columns"] == [
        "period",
        "scope",
        "scope_id",
    ]
    if engine.dialect.name == "sqlite":
        assert "_measure_results_new" not in inspect(engine).get_table_names()
