"""Run records tell an admin the truth about runs that were killed."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from graph_ingest.state import STALE_RUN, finish_run, start_run
from store import schema as s


def test_a_run_killed_long_ago_is_marked_interrupted_when_the_next_run_starts(store_engine):
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    killed = start_run(store_engine, "full", now=now - STALE_RUN - timedelta(hours=1))  # never finished
    live = start_run(store_engine, "incremental", now=now - timedelta(minutes=5))
    start_run(store_engine, "incremental", now=now)
    with store_engine.connect() as conn:
        status = dict(conn.execute(select(s.ingest_runs.c.run_id, s.ingest_runs.c.status)).all())
    assert status[killed] == "interrupted"
    assert status[live] == "running"  # a colleague's run that is still going is left alone
    finish_run(store_engine, live, "succeeded", {})
