"""The events generation (migration 0009): the database itself records that stored events were deleted or changed,
whoever did it, so the measures recompute can trust its saved state without counting every run's events."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update

from graph_ingest.state import finish_run, start_run
from measures.snapshot import events_generation
from pli_pulse.pseudonym import Pseudonymizer
from store import schema as s
from store.forget import forget_person
from store.retention import purge_expired
from store.upsert import upsert
from tests.store.helpers import T0, event, person, seed_class


def _seed(engine) -> None:
    with engine.begin() as conn:
        seed_class(conn)
        person(conn, "stu-1", "student")
    run_id = start_run(engine, "full")
    with engine.begin() as conn:
        upsert(conn, s.activity_events, [{**event(f"ev-{i}", "stu-1"), "run_id": run_id} for i in range(3)])
    finish_run(engine, run_id, "succeeded", {})


def test_ingest_inserting_events_of_its_run_leaves_the_generation_alone(store_engine):
    _seed(store_engine)
    assert events_generation(store_engine) == 0


def test_inserts_leave_the_generation_alone_even_without_a_run(store_engine):
    # no trigger on insert (it cost a quarter of the Teams ingest's CPU): the recompute counts run-less events
    _seed(store_engine)
    with store_engine.begin() as conn:
        upsert(conn, s.activity_events, [event("ev-loose", "stu-1")])
    assert events_generation(store_engine) == 0


def test_deleting_or_changing_a_stored_event_moves_the_generation_and_a_delete_of_nothing_does_not(store_engine):
    _seed(store_engine)
    ev = s.activity_events.c
    with store_engine.begin() as conn:
        conn.execute(delete(s.activity_events).where(ev.source_id == "no-such-event"))
    assert events_generation(store_engine) == 0
    with store_engine.begin() as conn:
        conn.execute(update(s.activity_events).where(ev.source_id == "ev-0").values(kind="post"))
    changed = events_generation(store_engine)
    assert changed > 0
    with store_engine.begin() as conn:
        conn.execute(delete(s.activity_events).where(ev.source_id == "ev-1"))
    assert events_generation(store_engine) > changed


def test_forget_and_the_retention_purge_move_the_generation(store_engine):
    _seed(store_engine)
    purge_expired(store_engine, 30, now=T0 + timedelta(days=10))  # nothing old enough yet
    assert events_generation(store_engine) == 0
    purge_expired(store_engine, 1, now=T0 + timedelta(days=10))
    purged = events_generation(store_engine)
    assert purged > 0
    with store_engine.begin() as conn:
        upsert(conn, s.activity_events, [{**event("ev-new", "stu-1", at=datetime.now(UTC)), "run_id": None}])
    before = events_generation(store_engine)
    forget_person(store_engine, "stu-1", Pseudonymizer(b"k" * 32))
    assert events_generation(store_engine) > before


def test_deleting_an_ingest_run_record_moves_the_generation(store_engine):
    # the recompute finds new runs by their records, and SQLite hands a deleted newest run's id to the next run
    _seed(store_engine)
    with store_engine.begin() as conn:
        conn.execute(delete(s.ingest_runs))
    assert events_generation(store_engine) > 0


def test_truncating_the_events_moves_the_generation_on_postgresql(store_engine):
    if store_engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's; SQLite's DELETE without WHERE fires the delete trigger per row")
    _seed(store_engine)
    with store_engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE activity_events")
    assert events_generation(store_engine) > 0


def test_a_delete_of_every_event_moves_the_generation(store_engine):
    _seed(store_engine)
    with store_engine.begin() as conn:
        conn.execute(delete(s.activity_events))
    assert events_generation(store_engine) > 0
